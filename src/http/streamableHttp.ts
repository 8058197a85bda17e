/**
 * Streamable HTTP on /mcp. Every request is first given its lane (lanes.ts: the one place where a
 * parsed POST body is classified):
 *   - a 2026-07-28 request is answered here, statelessly, by the SDK's per-request entry
 *     (modernLane.ts), without any Redis hop;
 *   - a 2025-11-25 session's message runs on the routing mesh, and nothing here holds MCP protocol
 *     state: every message is handed to the session's host through Redis, and the answer streams
 *     back through this instance's relay, whichever instance hosts the session.
 */
import type { ErrorRequestHandler, Request, RequestHandler, Response } from 'express';
import type { JSONRPCMessage } from '@modelcontextprotocol/server';
import type { Logger } from '../observability/logger.js';
import {
  isMeshUnavailable,
  parseLastEventId,
  SessionLimitError,
  type EventSink,
  type OpenRequest,
  type ReplyHeader,
  type ReplySink,
  type SessionRef,
  type SessionStreams,
  type StreamCursor,
} from '../routing/streams.js';
import { jsonRpcBodyErrors, jsonRpcBodyReader, parseJsonRpcBody } from './jsonRpcBody.js';
import {
  JsonRpcCode,
  jsonRpcErrorBody,
  sendJsonRpcError,
  sendSessionNotFound,
  sendSessionUnavailable,
  sendUndelivered,
} from './jsonRpcError.js';
import { postLane, sessionOperationLane, VERSION_HEADER, type Refusal } from './lanes.js';
import type { ModernLane } from './modernLane.js';
import { callerOf, ownedSessionRef } from './sessionIdentity.js';
import { type SseStream, SseStreams } from './sse.js';

export interface StreamableHttpDeps {
  /** The routing mesh (2025-11-25 sessions). */
  mesh: SessionStreams;
  /** The stateless 2026-07-28 lane. */
  modern: ModernLane;
  sse: SseStreams;
  log: Logger;
  maxBodyBytes: number;
}

type RpcId = string | number | null;

const SESSION_HEADER = 'mcp-session-id';
/** Clients of earlier revisions cannot parse an event with empty data. */
const PRIMING_VERSION = '2025-11-25';
/** How soon a client whose stream the server closed early should reconnect (SSE `retry`). */
const CLOSED_STREAM_RETRY_MS = 500;

/** How a request may be answered, from its Accept header. */
interface Mode {
  /** Intermediate messages can be streamed (text/event-stream accepted). */
  sse: boolean;
  /** A lone final answer can be sent as application/json. */
  json: boolean;
  /** The client speaks 2025-11-25 or later: a resumable stream starts with a priming event. */
  prime: boolean;
}

/**
 * The /mcp endpoint as one handler (dispatch by method) and its error handler. It runs behind the
 * guard chain in src/app.ts, without Express's router (see src/http/handlerChain.ts).
 */
export function streamableHttpEndpoint(deps: StreamableHttpDeps): {
  handle: RequestHandler;
  onError: ErrorRequestHandler;
} {
  const readBody = jsonRpcBodyReader(deps.maxBodyBytes);
  const run = (handler: typeof handlePost) => (req: Request, res: Response) =>
    void handler(deps, req, res).catch((err: unknown) => fail(deps, res, err));
  const post = run(handlePost);
  const get = run(handleGet);
  const del = run(handleDelete);
  // GET and DELETE have no body: their lane comes from the headers alone.
  const sessionOperation = (serve: (req: Request, res: Response) => void) => (req: Request, res: Response) => {
    const lane = sessionOperationLane(req.headers);
    if (lane.lane === 'refused') return refuse(res, lane.refusal, null);
    serve(req, res);
  };
  const getOnSession = sessionOperation(get);
  const deleteOnSession = sessionOperation(del);
  const handle: RequestHandler = (req, res, next) => {
    switch (req.method) {
      case 'POST':
        return readBody(req, res, (err?: unknown) => (err ? next(err) : post(req, res)));
      case 'GET':
        return getOnSession(req, res);
      case 'DELETE':
        return deleteOnSession(req, res);
      default:
        res.setHeader('Allow', 'GET, POST, DELETE');
        sendJsonRpcError(res, 405, JsonRpcCode.InvalidRequest, 'Method not allowed');
    }
  };
  return { handle, onError: jsonRpcBodyErrors(deps.maxBodyBytes) };
}

function refuse(res: Response, refusal: Refusal, id: RpcId): void {
  if (refusal.allow) res.setHeader('Allow', refusal.allow);
  sendJsonRpcError(res, refusal.status, refusal.code, refusal.message, id);
}

/** The id an answer to `message` must carry: the request's, or null for anything else. */
function idOf(message: JSONRPCMessage): RpcId {
  return 'method' in message && 'id' in message ? message.id : null;
}

/** The caller's session named by Mcp-Session-Id, or undefined after answering 400/404 (with `id`). */
function sessionRef(req: Request, res: Response, id: RpcId = null): SessionRef | undefined {
  const sid = req.headers[SESSION_HEADER];
  if (typeof sid !== 'string' || sid.length === 0) {
    sendJsonRpcError(res, 400, JsonRpcCode.InvalidRequest, 'Bad Request: Mcp-Session-Id header is required', id);
    return undefined;
  }
  const ref = ownedSessionRef(req, sid);
  if (!ref) sendSessionNotFound(res, id);
  return ref;
}

function responseMode(req: Request): Mode | undefined {
  const accept = req.headers.accept ?? '';
  const version = req.headers[VERSION_HEADER];
  const mode = {
    sse: accept.includes('text/event-stream'),
    json: accept.includes('application/json') || accept.includes('*/*'),
    prime: typeof version === 'string' && version >= PRIMING_VERSION,
  };
  return mode.sse || mode.json ? mode : undefined;
}

async function handlePost(deps: StreamableHttpDeps, req: Request, res: Response): Promise<void> {
  const message = parseJsonRpcBody(req, res);
  if (!message) return;
  const lane = postLane(req.headers, message);
  switch (lane.lane) {
    case 'refused':
      return refuse(res, lane.refusal, idOf(message));
    case 'modern':
      return deps.modern.serve(req, res, message, lane.verdict);
    case 'session':
      return relayToSession(deps, req, res, message);
  }
}

/** A 2025-11-25 session's message: handed to the session's host through the mesh. */
async function relayToSession(
  deps: StreamableHttpDeps,
  req: Request,
  res: Response,
  message: JSONRPCMessage,
): Promise<void> {
  const from = { caller: callerOf(req), httpRequestId: req.id };

  if (!('method' in message && 'id' in message)) {
    // Notifications and responses: accepted once the session's host has them (202, no body).
    const ref = sessionRef(req, res);
    if (!ref) return;
    const result = await deps.mesh.send(ref, req.body as string, from);
    if (result === 'delivered') res.status(202).end();
    else sendUndelivered(res, result);
    return;
  }

  const mode = responseMode(req);
  if (!mode) {
    sendJsonRpcError(
      res,
      406,
      JsonRpcCode.InvalidRequest,
      'Not Acceptable: Accept must include application/json or text/event-stream',
      message.id,
    );
    return;
  }

  let ref: SessionRef;
  if (message.method === 'initialize') {
    try {
      ref = await deps.mesh.createSession(from.caller, req.body as string);
    } catch (err) {
      if (err instanceof SessionLimitError)
        return sendJsonRpcError(res, 429, JsonRpcCode.ServerError, err.message, message.id);
      throw err;
    }
  } else {
    const r = sessionRef(req, res, message.id);
    if (!r) return;
    ref = r;
  }

  const sink = new HttpReplySink(deps, res, mode, ref.sessionId, message.id);
  const request = deps.mesh.request(ref, req.body as string, { ...from, resumable: mode.sse && mode.prime }, sink);
  sink.request = request;
  res.on('close', () => {
    if (!sink.done) {
      // A disconnect is not a cancellation (spec): the host finishes; its late answer is dropped.
      request.cancel();
      deps.log.debug({ session: ref.sessionId, id: message.id }, 'client disconnected before the response');
    }
  });
  const result = await request.delivery;
  if (result !== 'delivered') {
    sink.done = true;
    sendUndelivered(res, result, message.id);
  }
}

/** Turns replies from the session's host into the HTTP response of one POSTed request. */
class HttpReplySink implements ReplySink {
  done = false;
  /** The request this response waits for (names its resumable stream; set once sent). */
  request: OpenRequest | undefined;
  private stream: SseStream | undefined;

  constructor(
    private readonly deps: StreamableHttpDeps,
    private readonly res: Response,
    private readonly mode: Mode,
    private readonly sessionId: string,
    private readonly requestId: string | number,
  ) {}

  onReply(header: ReplyHeader, body: string | undefined): void {
    if (this.done) return;
    switch (header.type) {
      case 'msg':
        if (body === undefined) return;
        if (header.final && !this.stream && this.mode.json) {
          // The answer came before anything else: one plain JSON response (the spec lets the server
          // choose either content type), one write instead of an SSE head, an event and a terminator.
          this.finishJson(200, body);
          return;
        }
        if (!this.mode.sse) {
          this.deps.log.debug({ session: this.sessionId }, 'JSON response mode: intermediate message dropped');
          return;
        }
        // Anything before the answer means the host logs this stream: it is resumable.
        this.sse(!header.final).send(body, header.eventId);
        if (header.final) this.finishSse();
        return;
      case 'alive':
        // Open the stream early so proxies see bytes while a slow request runs (resumable too).
        if (this.mode.sse) this.sse(true);
        return;
      case 'end':
        if (this.mode.sse) {
          this.sse();
          this.finishSse();
        } else {
          this.done = true;
          this.res.status(204).end();
        }
        return;
      case 'error':
        this.finishError(header.status, header.code, header.message);
        return;
      case 'close':
        // The host closes the stream early (polling). It only does so for requests this relay
        // marked resumable (the client accepts SSE and speaks 2025-11-25+), so the stream is
        // primed; the client reconnects after the retry hint and gets the rest by resuming.
        this.sse(true).retry(CLOSED_STREAM_RETRY_MS);
        this.finishSse();
        return;
      case 'deleted':
        return;
    }
  }

  onTimeout(): void {
    this.deps.log.warn({ session: this.sessionId }, 'session host did not answer in time');
    this.finishError(504, JsonRpcCode.ServerError, 'Session host did not respond in time');
  }

  private sse(resumable = false): SseStream {
    if (!this.stream) {
      this.stream = this.deps.sse.start(this.res, 'post', { 'Mcp-Session-Id': this.sessionId });
      // Cursor before the first logged event: resuming from it replays the whole stream.
      if (resumable && this.mode.prime && this.request) this.stream.prime(this.request.primingEventId);
    }
    return this.stream;
  }

  private finishSse(): void {
    this.done = true;
    this.stream?.end();
  }

  private finishJson(status: number, body: string): void {
    this.done = true;
    // An explicit length: without it writeHead commits to chunked framing (more bytes, more iovecs).
    this.res.writeHead(status, {
      'Mcp-Session-Id': this.sessionId,
      'Content-Type': 'application/json',
      'Content-Length': Buffer.byteLength(body),
    });
    this.res.end(body);
  }

  private finishError(status: number, code: number, message: string): void {
    const body = JSON.stringify(jsonRpcErrorBody(code, message, this.requestId));
    if (this.stream) {
      this.stream.send(body);
      this.finishSse();
    } else {
      // An HTTP-level failure: the status carries it, whatever the Accept header allowed.
      this.finishJson(status, body);
    }
  }
}

async function handleGet(deps: StreamableHttpDeps, req: Request, res: Response): Promise<void> {
  if (!(req.headers.accept ?? '').includes('text/event-stream')) {
    return sendJsonRpcError(
      res,
      406,
      JsonRpcCode.InvalidRequest,
      'Not Acceptable: Accept must include text/event-stream',
    );
  }
  const ref = sessionRef(req, res);
  if (!ref) return;
  const { mesh } = deps;
  if (!(await mesh.exists(ref))) return sendSessionNotFound(res);

  // Resumption (spec 2025-11-25): Last-Event-ID names the stream and the client's cursor in it.
  const lastEventId = req.headers['last-event-id'];
  let from: StreamCursor | undefined;
  if (lastEventId !== undefined) {
    from = typeof lastEventId === 'string' ? parseLastEventId(lastEventId) : undefined;
    if (!from)
      return sendJsonRpcError(
        res,
        400,
        JsonRpcCode.InvalidRequest,
        'Bad Request: Last-Event-ID is not an event id of this server',
      );
    if (from.stream === 'request') return resumeRequestStream(deps, res, ref, from);
  }

  const getStream = await mesh.claimGetStream(ref);
  if (!getStream)
    return sendJsonRpcError(
      res,
      409,
      JsonRpcCode.InvalidRequest,
      'Conflict: only one GET stream per session is allowed',
    );
  // Keep the lease and the session alive while the client listens.
  const stream = deps.sse.start(res, 'get', { 'Mcp-Session-Id': ref.sessionId }, () => getStream.keepAlive());
  res.on('close', () => void getStream.close());
  await getStream.start(from, sseSink(stream));
}

/**
 * Resumes the SSE response of a POSTed request whose connection was lost, possibly because the
 * instance holding it is gone.
 */
async function resumeRequestStream(
  deps: StreamableHttpDeps,
  res: Response,
  ref: SessionRef,
  from: StreamCursor,
): Promise<void> {
  const resumed = await deps.mesh.resumeRequestStream(ref, from);
  if (!resumed) {
    // Not 404: that would tell the client its session is gone.
    return sendJsonRpcError(
      res,
      400,
      JsonRpcCode.InvalidRequest,
      'Bad Request: Last-Event-ID names no resumable stream of this session (unknown, expired or already complete)',
    );
  }
  const stream = deps.sse.start(res, 'post', { 'Mcp-Session-Id': ref.sessionId });
  res.on('close', () => resumed.close());
  resumed.start(sseSink(stream));
}

function sseSink(stream: SseStream): EventSink {
  return { message: (body, id) => stream.send(body, id), end: () => stream.end() };
}

async function handleDelete(deps: StreamableHttpDeps, req: Request, res: Response): Promise<void> {
  const ref = sessionRef(req, res);
  if (!ref) return;
  const result = await deps.mesh.end(ref);
  if (res.writableEnded || res.destroyed) return;
  if (result === 'deleted') res.status(200).json({});
  else if (result === 'timeout')
    sendJsonRpcError(res, 504, JsonRpcCode.ServerError, 'Session host did not respond in time');
  else sendUndelivered(res, result);
}

function fail(deps: StreamableHttpDeps, res: Response, err: unknown): void {
  if (isMeshUnavailable(err)) {
    // A lost connection or a failover in progress: retryable, and not a bug.
    deps.log.warn({ err: (err as Error).message }, 'mcp request failed: Redis unavailable');
    if (res.headersSent) res.end();
    else sendSessionUnavailable(res);
    return;
  }
  deps.log.error({ err }, 'mcp request failed');
  sendJsonRpcError(res, 500, JsonRpcCode.InternalError, 'Internal error');
}
