/**
 * Session administration for the signed-in user, whichever instance they reach:
 *   - `GET /sessions` lists the caller's live sessions, read from Redis (every instance sees all);
 *   - `DELETE /sessions/:id` ends one of them on whichever instance hosts it (the same delete
 *     command DELETE /mcp sends; a dead host's session is taken over first, so its keys still go).
 * Every Redis name embeds the caller's user key (from the verified token), so another user's
 * sessions are neither listed nor reachable: their ids answer 404 exactly like unknown ones.
 */
import { type Request, type Response, Router } from 'express';
import { userIdOf } from '../auth/types.js';
import type { Logger } from '../observability/logger.js';
import type { SessionInfo, SessionStreams, SessionTransport } from '../routing/streams.js';
import { ownedSessionRef } from './sessionIdentity.js';

export interface SessionAdminDeps {
  /** The routing mesh. */
  mesh: SessionStreams;
  log: Logger;
}

/** One entry of `GET /sessions`. Times are ISO 8601; `lastActivity` is refreshed every few seconds. */
export interface SessionSummary {
  id: string;
  transport: SessionTransport;
  created: string;
  lastActivity: string;
  /** Id of the instance hosting the session (its McpServer). */
  instance: string;
  protocolVersion?: string;
}

/** The error shape of this (non-JSON-RPC) API: a stable code and a human-readable message. */
function sendError(res: Response, status: number, error: string, message: string): void {
  if (res.headersSent) return void res.end();
  res.status(status).json({ error, message });
}

export function sessionAdminRouter(deps: SessionAdminDeps): Router {
  const router = Router();
  const guard = (fn: (req: Request, res: Response) => Promise<void>) => (req: Request, res: Response) =>
    void fn(req, res).catch((err: unknown) => {
      deps.log.error({ err }, 'session admin request failed');
      sendError(res, 500, 'internal_error', 'Internal error');
    });
  router.get(
    '/',
    guard((req, res) => listSessions(deps, req, res)),
  );
  router.delete(
    '/:id',
    guard((req, res) => endSession(deps, req, res)),
  );
  router.all('/', (_req, res) => {
    res.setHeader('Allow', 'GET');
    sendError(res, 405, 'method_not_allowed', 'Method not allowed');
  });
  router.all('/:id', (_req, res) => {
    res.setHeader('Allow', 'DELETE');
    sendError(res, 405, 'method_not_allowed', 'Method not allowed');
  });
  return router;
}

async function listSessions(deps: SessionAdminDeps, req: Request, res: Response): Promise<void> {
  const sessions = (await deps.mesh.listSessions(userIdOf(req.auth)!, req.auth!.clientId)).map(summary);
  res.setHeader('Cache-Control', 'no-store');
  res.json({ sessions });
}

function summary(info: SessionInfo): SessionSummary {
  const s: SessionSummary = {
    id: info.id,
    transport: info.transport,
    created: new Date(info.created).toISOString(),
    lastActivity: new Date(info.lastActivity).toISOString(),
    instance: info.host,
  };
  if (info.protocolVersion !== undefined) s.protocolVersion = info.protocolVersion;
  return s;
}

async function endSession(deps: SessionAdminDeps, req: Request, res: Response): Promise<void> {
  const ref = ownedSessionRef(req, String(req.params['id']));
  if (!ref) return sendError(res, 404, 'session_not_found', 'Session not found');
  const result = await deps.mesh.end(ref);
  switch (result) {
    case 'deleted':
      res.json({ id: ref.sessionId, ended: true });
      return;
    case 'gone':
      return sendError(res, 404, 'session_not_found', 'Session not found');
    case 'unavailable':
      res.setHeader('Retry-After', '1');
      return sendError(res, 503, 'unavailable', 'Session host unavailable, retry shortly');
    case 'timeout':
      return sendError(res, 504, 'timeout', 'Session host did not respond in time');
  }
}
