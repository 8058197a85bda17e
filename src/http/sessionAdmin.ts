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
import { sessionOwnerKey } from '../redis/keys.js';
import type { RoutingInstance } from '../routing/instance.js';
import type { SessionMeta } from '../routing/sessionStore.js';
import { ownedSessionRef } from './sessionIdentity.js';

export interface SessionAdminDeps {
  routing: RoutingInstance;
  log: Logger;
}

export type TransportKind = 'streamable-http' | 'sse' | 'websocket';

/** One entry of `GET /sessions`. Times are ISO 8601; `lastActivity` is refreshed every few seconds. */
export interface SessionSummary {
  id: string;
  transport: TransportKind;
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
  router.get('/', guard((req, res) => listSessions(deps, req, res)));
  router.delete('/:id', guard((req, res) => endSession(deps, req, res)));
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
  const u = sessionOwnerKey(userIdOf(req.auth)!, req.auth!.clientId);
  const { store } = deps.routing;
  const ids = await store.listForUser(u);
  const metas = await Promise.all(ids.map((sessionId) => store.load({ u, sessionId })));
  const sessions: SessionSummary[] = [];
  ids.forEach((id, i) => {
    const meta = metas[i];
    // An id whose meta is gone ended between the two reads.
    if (meta) sessions.push(summary(id, meta));
  });
  res.setHeader('Cache-Control', 'no-store');
  res.json({ sessions });
}

function summary(id: string, meta: SessionMeta): SessionSummary {
  const s: SessionSummary = {
    id,
    transport: meta.ws !== undefined ? 'websocket' : meta.sse !== undefined ? 'sse' : 'streamable-http',
    created: new Date(meta.created).toISOString(),
    lastActivity: new Date(meta.seen).toISOString(),
    instance: meta.host,
  };
  if (meta.proto !== undefined) s.protocolVersion = meta.proto;
  return s;
}

async function endSession(deps: SessionAdminDeps, req: Request, res: Response): Promise<void> {
  const ref = ownedSessionRef(req, String(req.params['id']));
  if (!ref) return sendError(res, 404, 'session_not_found', 'Session not found');
  const result = await deps.routing.endSession(ref);
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
