/**
 * Who is calling, and which session name that gives, for every endpoint that routes to a session
 * (/mcp, /message, /sessions). The user key comes from the verified token only, never from the
 * request: another user's session id names no session of this caller, and gets the same 404 as
 * an unknown id (MCP security best practices: bind sessions to the user).
 */
import type { Request } from 'express';
import { userIdOf } from '../auth/types.js';
import { ownedSession, type Caller, type SessionRef } from '../routing/streams.js';

/** Visible ASCII, as the spec requires of MCP-Session-Id (2025-11-25, transports: session management). */
export const SESSION_ID_RE = /^[\x21-\x7e]{1,128}$/;

/** The verified identity that travels with each message to the host (never the token itself). */
export function callerOf(req: Request): Caller {
  const auth = req.auth!;
  return {
    userId: userIdOf(auth)!,
    clientId: auth.clientId,
    scopes: auth.scopes,
    expiresAt: auth.expiresAt,
    resource: auth.resource?.href,
  };
}

/** The caller's session of that id, or undefined when the id cannot name any session. */
export function ownedSessionRef(req: Request, sessionId: string): SessionRef | undefined {
  if (!SESSION_ID_RE.test(sessionId)) return undefined;
  return ownedSession(userIdOf(req.auth)!, req.auth!.clientId, sessionId);
}
