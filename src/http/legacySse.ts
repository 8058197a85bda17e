/**
 * The legacy HTTP+SSE transport (MCP 2024-11-05, basic/transports) on top of the routing mesh, for
 * clients that fall back to it after a 4xx on POST /mcp:
 *   - `GET /sse` opens the session's only stream, hosts the new session on this instance, and
 *     announces where to POST with an `endpoint` event (`<base path>/message?sessionId=<id>`);
 *   - `POST /message?sessionId=<id>` may land on any instance: the message reaches the host
 *     through Redis and the POST gets 202; every answer, responses included, travels on the
 *     stream (the host routes all of a legacy session's output to its outbound channel);
 *   - the stream closing ends the session for good (the transport has no way to resume it).
 * Same auth, ownership (user-keyed names: another user's id is an unknown one) and guards as /mcp.
 */
import { type Request, type Response, Router } from 'express';
import type { Logger } from '../observability/logger.js';
import { SessionLimitError, type SessionRef, type SessionStreams } from '../routing/streams.js';
import { jsonRpcBodyErrors, jsonRpcBodyReader, parseJsonRpcBody } from './jsonRpcBody.js';
import { JsonRpcCode, sendJsonRpcError, sendSessionNotFound, sendUndelivered } from './jsonRpcError.js';
import { callerOf, ownedSessionRef } from './sessionIdentity.js';
import type { SseStreams } from './sse.js';

export interface LegacySseDeps {
  /** The routing mesh. */
  mesh: SessionStreams;
  sse: SseStreams;
  log: Logger;
  maxBodyBytes: number;
  /** Public base URL (BASE_URI): the endpoint event names /message under its path. */
  baseUri: string;
}

export interface LegacySseRouters {
  /** Mount at `/sse`. */
  stream: Router;
  /** Mount at `/message`. */
  message: Router;
}

export function legacySseRouters(deps: LegacySseDeps): LegacySseRouters {
  // Relative to the deployment's base path, so a client behind a path-prefixing proxy POSTs back
  // through it (the client resolves the endpoint against the /sse URL).
  const messagePath = `${new URL(deps.baseUri).pathname.replace(/\/+$/, '')}/message`;

  const stream = Router();
  stream.get('/', (req, res) => void openStream(deps, messagePath, req, res).catch((err) => fail(deps, res, err)));
  stream.all('/', (_req, res) => {
    res.setHeader('Allow', 'GET');
    sendJsonRpcError(res, 405, JsonRpcCode.InvalidRequest, 'Method not allowed');
  });

  const message = Router();
  message.post(
    '/',
    jsonRpcBodyReader(deps.maxBodyBytes),
    (req, res) => void postMessage(deps, req, res).catch((err) => fail(deps, res, err)),
  );
  message.all('/', (_req, res) => {
    res.setHeader('Allow', 'POST');
    sendJsonRpcError(res, 405, JsonRpcCode.InvalidRequest, 'Method not allowed');
  });
  message.use(jsonRpcBodyErrors(deps.maxBodyBytes));
  return { stream, message };
}

async function openStream(deps: LegacySseDeps, messagePath: string, req: Request, res: Response): Promise<void> {
  const accept = req.headers.accept;
  if (accept !== undefined && !accept.includes('text/event-stream') && !accept.includes('*/*')) {
    return sendJsonRpcError(
      res,
      406,
      JsonRpcCode.InvalidRequest,
      'Not Acceptable: Accept must include text/event-stream',
    );
  }
  const { mesh, log } = deps;
  // The client may leave while the session is being set up: whatever exists by then is ended.
  let ref: SessionRef | undefined;
  let unsubscribe: (() => Promise<void>) | undefined;
  let closed = false;
  res.on('close', () => {
    closed = true;
    if (ref) endSession(deps, ref, unsubscribe);
  });

  try {
    ref = await mesh.createSession(callerOf(req), undefined, { legacySse: true });
  } catch (err) {
    if (err instanceof SessionLimitError) return sendJsonRpcError(res, 429, JsonRpcCode.ServerError, err.message);
    throw err;
  }
  const session = ref;
  if (closed) return endSession(deps, session, undefined);
  const stream = deps.sse.start(res, 'legacy_sse', {}, () => {
    // Keeps the session from idling out while its client listens. Delivered like any message, so
    // a host that died meanwhile is replaced, and a session ended meanwhile closes the stream.
    return mesh.touch(session).then(
      (result) => {
        if (result === 'gone') stream.end();
      },
      (err: Error) => log.debug({ err: err.message, session: session.sessionId }, 'legacy keep-alive touch failed'),
    );
  });
  // Subscribed before the endpoint is announced: no answer can be published before we listen.
  // The transport has no event ids: every message goes out as it is.
  unsubscribe = await mesh.listenOutbound(session, { message: (body) => stream.send(body), end: () => stream.end() });
  // Closed while subscribing: the close handler ended the session but had nothing to unsubscribe.
  if (closed) return void unsubscribe();
  stream.event('endpoint', `${messagePath}?sessionId=${encodeURIComponent(session.sessionId)}`);
  log.debug({ session: session.sessionId }, 'legacy SSE stream opened');
}

/** The stream is gone, so is the session: the host deletes its keys wherever it runs. */
function endSession(deps: LegacySseDeps, ref: SessionRef, unsubscribe: (() => Promise<void>) | undefined): void {
  void unsubscribe?.();
  deps.mesh.end(ref).then(
    (result) => deps.log.debug({ session: ref.sessionId, result }, 'legacy SSE stream closed: session ended'),
    (err: Error) => deps.log.warn({ err: err.message, session: ref.sessionId }, 'could not end legacy session'),
  );
}

async function postMessage(deps: LegacySseDeps, req: Request, res: Response): Promise<void> {
  const sid = req.query['sessionId'];
  if (typeof sid !== 'string' || sid.length === 0) {
    return sendJsonRpcError(res, 400, JsonRpcCode.InvalidRequest, 'Bad Request: sessionId query parameter is required');
  }
  const message = parseJsonRpcBody(req, res);
  if (!message) return;
  const id = 'id' in message && message.id !== undefined ? message.id : null;
  const ref = ownedSessionRef(req, sid);
  if (!ref) return sendSessionNotFound(res, id);

  // Sent one way: the host answers on the session's /sse stream, not on this request.
  const result = await deps.mesh.send(ref, req.body as string, { caller: callerOf(req), httpRequestId: req.id });
  if (result === 'delivered') res.status(202).end();
  else sendUndelivered(res, result, id);
}

function fail(deps: LegacySseDeps, res: Response, err: unknown): void {
  deps.log.error({ err }, 'legacy SSE request failed');
  sendJsonRpcError(res, 500, JsonRpcCode.InternalError, 'Internal error');
}
