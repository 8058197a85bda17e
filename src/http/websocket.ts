/**
 * `GET /ws`: MCP over one WebSocket per session (subprotocol `mcp`, one JSON-RPC message per text
 * frame), relayed onto the routing mesh by `WebSocketSession`.
 *
 * The upgrade runs the very guard chain of /mcp before the 101 (src/app.ts): Host/Origin guard,
 * per-address rate limit, bearer auth from the `Authorization` header, per-user rate limit. Those
 * are Express middleware, so the upgrade request gets an ordinary response object bound to its
 * socket: a refusal is a plain HTTP answer (401 with the same `WWW-Authenticate` challenge as /mcp,
 * 403, 429…), written on the socket, which then closes. Only when every guard passed does the last
 * handler (`accept`) check the handshake and the caps and hand the socket to the `ws` library.
 *
 * Every message on an open socket counts against the user's rate limit, on the counter of /mcp.
 * Limits: MAX_WEBSOCKETS_PER_INSTANCE open sockets (503 beyond it, so the client retries through the
 * load balancer), MAX_SESSIONS_PER_USER (the socket's session is created before the 101, so the
 * cap answers 429 as on /mcp's initialize), frames of at most
 * MAX_BODY_BYTES (1009), a bounded send buffer per socket (4008), a ping every
 * WEBSOCKET_PING_INTERVAL_MS (a peer that misses one is dropped).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ErrorRequestHandler, Request, RequestHandler, Response } from 'express';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { Rounds } from '../redis/batches.js';
import { SessionLimitError, type SessionRef, type SessionStreams } from '../routing/streams.js';
import { JsonRpcCode, sendJsonRpcError } from './jsonRpcError.js';
import { callerOf } from './sessionIdentity.js';
import { SERVER_CLOSES } from './websocketCloseCodes.js';
import { WebSocketSession, type SocketEnd } from './websocketSession.js';

/** The subprotocol clients must offer (the one the MCP TypeScript SDK's 1.x WebSocket transport sent). */
export const MCP_SUBPROTOCOL = 'mcp';
export const WEBSOCKET_PATH = '/ws';

export interface WebSocketEndpointOptions {
  /** The routing mesh. */
  mesh: SessionStreams;
  log: Logger;
  metrics: Metrics;
  maxSockets: number;
  /** Largest frame accepted (MAX_BODY_BYTES): the same bound as a POSTed body. */
  maxFrameBytes: number;
  sendBufferBytes: number;
  pingIntervalMs: number;
  isDraining(): boolean;
}

/** What an HTTP request listener looks like (the app's). */
type Listener = (req: IncomingMessage, res: ServerResponse) => void;

/** What the app hands the endpoint: its handler chains and guard instances (src/app.ts). */
export interface UpgradeWiring {
  /** The guards, then `accept`. */
  chain: Listener;
  /** The app itself, for upgrade requests to other paths (Node 20). */
  ordinary: Listener;
  /** Express's response class (`expressMessageClasses`), for the upgrade request's response. */
  responseClass: new (req: IncomingMessage) => ServerResponse;
  /** The bearer middleware of the chain, run again on open sockets (revocation). */
  authenticate: RequestHandler;
  /** Counts a message against the user's rate limit (McpRateLimits.countUserMessage); absent = no limit. */
  countUserMessage?: (userId: string) => Promise<number | undefined>;
}

/** Whether the token a socket was opened with is still accepted. */
export type TokenVerdict = 'ok' | 'refused' | 'unavailable';

/** RFC 6455 §4.1: a base64-encoded 16-byte nonce. */
const WEBSOCKET_KEY = /^[+/0-9A-Za-z]{22}==$/;
/** RFC 7230 token, the syntax of each offered subprotocol (RFC 6455 §4.1). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Headers set by the guards that a client should see on the 101 too. */
const CARRIED_HEADERS = ['x-request-id', 'ratelimit', 'ratelimit-policy'];
/** How long a closing handshake may take before the socket is destroyed. */
const CLOSE_TIMEOUT_MS = 5000;

export class WebSocketEndpoint {
  private readonly wss: WebSocketServer;
  private readonly sessions = new Set<WebSocketSession>();
  /** The raw socket and first bytes of each upgrade request on its way through the guards. */
  private readonly upgrades = new WeakMap<IncomingMessage, { socket: Duplex; head: Buffer; headers: string[] }>();
  private readonly timer: NodeJS.Timeout;
  /** Upgrades past the socket cap check that are still creating their session. */
  private reserved = 0;
  private countUserMessage: ((userId: string) => Promise<number | undefined>) | undefined;
  private reauthenticate: ((authorization: string | undefined) => Promise<TokenVerdict>) | undefined;
  private readonly checkIns = new Rounds();

  constructor(private readonly opts: WebSocketEndpointOptions) {
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      maxPayload: opts.maxFrameBytes,
      perMessageDeflate: false,
      handleProtocols: (offered) => (offered.has(MCP_SUBPROTOCOL) ? MCP_SUBPROTOCOL : false),
      // A ws option (8.23) its type definitions lack: bounds a close handshake the peer never answers.
      ...({ closeTimeout: CLOSE_TIMEOUT_MS } as object),
    });
    this.wss.on('headers', (headers, req) => {
      const extra = this.upgrades.get(req)?.headers;
      if (extra) headers.push(...extra);
    });
    this.timer = setInterval(() => {
      // Pings on every tick; the Redis part a batch at a time (redis/batches.ts), and not started
      // again while the previous round still runs (a slow Redis).
      const inService = [...this.sessions].filter((s) => s.ping());
      this.checkIns.start(inService, (s) => s.checkIn());
    }, opts.pingIntervalMs);
    this.timer.unref();
  }

  get size(): number {
    return this.sessions.size;
  }

  /**
   * The HTTP server's `upgrade` listener. `/ws` runs `chain` (the guards, then `accept`); any other
   * upgrade request (e.g. `Upgrade: h2c`, which RFC 9110 §7.8 lets a server ignore) is served as
   * an ordinary request when it has no body. Node ≥ 22.21 never sends those here (see
   * `shouldUpgrade`); Node 20 sends every request that carries an Upgrade header.
   */
  upgradeListener(wiring: UpgradeWiring): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
    const { chain, ordinary, responseClass: Res } = wiring;
    this.countUserMessage = wiring.countUserMessage;
    this.reauthenticate = reauthenticator(wiring.authenticate);
    return (req, socket, head) => {
      try {
        const res = responseOnSocket(req, socket, Res);
        if (isWebSocketPath(req.url)) {
          this.upgrades.set(req, { socket, head, headers: [] });
          return chain(req, res);
        }
        if (hasBody(req)) {
          // The body is beyond the HTTP parser now; answering properly is all that is left.
          return sendJsonRpcError(
            res as Response,
            400,
            JsonRpcCode.InvalidRequest,
            'Bad Request: protocol upgrade is only offered on /ws; resend without Upgrade',
          );
        }
        ordinary(req, res);
      } catch (err) {
        // An event listener of the HTTP server: a throw here would take the process down.
        this.opts.log.error({ err }, 'upgrade request failed');
        socket.destroy();
      }
    };
  }

  /** The last handler of the /ws chain: every guard passed; checks the handshake and caps, then upgrades. */
  readonly accept: RequestHandler = (req, res, next) => {
    this.completeUpgrade(req, res).catch(next);
  };

  /** Errors of the /ws chain (a guard or the upgrade failed unexpectedly). */
  readonly onError: ErrorRequestHandler = (err, req, res, _next) => {
    this.opts.log.error({ err }, 'websocket upgrade failed');
    this.upgrades.delete(req);
    sendJsonRpcError(res, 500, JsonRpcCode.InternalError, 'Internal error');
  };

  /**
   * Graceful shutdown: every socket gets 1001 "going away" (clients reconnect elsewhere and start a
   * new session), every session ends on the mesh; resolves when both are done or `graceMs` passed.
   */
  async shutdown(graceMs: number): Promise<void> {
    clearInterval(this.timer);
    const sessions = [...this.sessions];
    for (const s of sessions) s.close(SERVER_CLOSES.goingAway);
    const done = Promise.all(sessions.flatMap((s) => (s.ending ? [s.closed, s.ending] : [s.closed])));
    let timeout: NodeJS.Timeout | undefined;
    await Promise.race([done, new Promise<void>((r) => (timeout = setTimeout(r, graceMs)))]);
    clearTimeout(timeout);
    for (const s of this.sessions) s.abandon();
    this.wss.close();
  }

  /** As if the process died: sockets dropped, sessions left as they are (tests of instance loss). */
  abandon(): void {
    clearInterval(this.timer);
    for (const s of [...this.sessions]) s.abandon();
    this.wss.close();
  }

  private async completeUpgrade(req: Request, res: Response): Promise<void> {
    const upgrade = this.upgrades.get(req);
    if (!upgrade) throw new Error('websocket accept reached without an upgrade request');
    const { socket, head } = upgrade;
    const { log } = this.opts;
    const refusal = handshakeRefusal(req);
    if (refusal) {
      for (const [k, v] of Object.entries(refusal.headers ?? {})) res.setHeader(k, v);
      return sendJsonRpcError(res, refusal.status, JsonRpcCode.InvalidRequest, refusal.message);
    }
    if (this.opts.isDraining()) return unavailable(res, 'Service Unavailable: this instance is shutting down');
    if (this.sessions.size + this.reserved >= this.opts.maxSockets) {
      log.warn({ max: this.opts.maxSockets }, 'websocket refused: MAX_WEBSOCKETS_PER_INSTANCE reached');
      return unavailable(res, 'Service Unavailable: too many WebSocket connections on this instance');
    }
    // A slot is held from here on, so concurrent upgrades cannot overshoot the cap while this one awaits.
    this.reserved++;
    try {
      await this.openSession(req, res, socket, head);
    } finally {
      this.reserved--;
    }
  }

  /**
   * Creates the socket's session before the 101, so the per-user cap (the same `createSession`
   * as /mcp's initialize, whatever its policy) answers as plain HTTP; then completes the handshake.
   */
  private async openSession(req: Request, res: Response, socket: Duplex, head: Buffer): Promise<void> {
    const { mesh } = this.opts;
    const caller = callerOf(req);
    let ref: SessionRef;
    try {
      ref = await mesh.createSession(caller, undefined, { websocket: true });
    } catch (err) {
      if (err instanceof SessionLimitError) return sendJsonRpcError(res, 429, JsonRpcCode.ServerError, err.message);
      throw err;
    }
    // Listening before the 101: nothing the host sends can be missed. The session object exists
    // once the handshake is done; the host sends nothing before the client's initialize.
    const box: { session?: WebSocketSession } = {};
    let unsubscribe: (() => Promise<void>) | undefined;
    try {
      unsubscribe = await mesh.listenOutbound(ref, {
        message: (body, id) => box.session?.outbound.message(body, id),
        end: () => box.session?.outbound.end(),
      });
    } catch (err) {
      void mesh.end(ref).catch(() => undefined);
      throw err;
    }
    if (!socket.destroyed) {
      // The guards' headers the client should also see on the 101 (request id, rate-limit state).
      const extra = this.upgrades.get(req)!.headers;
      for (const name of CARRIED_HEADERS) {
        const value = res.getHeader(name);
        if (typeof value === 'string' || typeof value === 'number') extra.push(`${name}: ${value}`);
      }
      res.detachSocket(socket as never);
      // Synchronous: the callback runs before handleUpgrade returns, or never (a handshake `ws` refused).
      this.wss.handleUpgrade(req, socket, head, (ws) => (box.session = this.open(ws, req, ref, unsubscribe)));
    }
    this.upgrades.delete(req);
    if (!box.session) {
      // The client left during the checks: its session goes with it.
      void unsubscribe();
      void mesh.end(ref).catch(() => undefined);
    }
  }

  private open(ws: WebSocket, req: Request, ref: SessionRef, unsubscribe: () => Promise<void>): WebSocketSession {
    const { metrics } = this.opts;
    const log = (req.log ?? this.opts.log).child({ transport: 'websocket', session: ref.sessionId });
    const caller = callerOf(req);
    const count = this.countUserMessage;
    const reauthenticate = this.reauthenticate;
    // Kept in this closure only (never logged, never sent to Redis), to ask the verifier again.
    const authorization = req.headers.authorization;
    const session = new WebSocketSession(
      ws,
      {
        mesh: this.opts.mesh,
        sendBufferBytes: this.opts.sendBufferBytes,
        onFrame: (direction) => metrics.websocketMessages.inc({ direction }),
        onSlowConsumer: () => metrics.websocketSlowConsumers.inc(),
        countMessage: count && (() => count(caller.userId)),
        reauthenticate: reauthenticate && (() => reauthenticate(authorization)),
      },
      ref,
      unsubscribe,
      caller,
      req.id ?? '',
      log,
      (s, end) => this.onEnded(s, end, log),
    );
    this.sessions.add(session);
    metrics.websocketsOpened.inc();
    // The access log never sees a 101 (the response object is detached): count and log it here.
    metrics.httpRequests.inc({ method: 'GET', route: WEBSOCKET_PATH, status: '101' });
    log.info({ remoteAddress: req.ip, user: caller.userId }, 'websocket opened');
    return session;
  }

  private onEnded(session: WebSocketSession, end: SocketEnd, log: Logger): void {
    if (!this.sessions.delete(session)) return;
    this.opts.metrics.websocketsClosed.inc({ reason: end.reason });
    log.info(
      {
        closeCode: end.code,
        reason: end.reason,
        durationMs: Date.now() - session.opened,
        messagesIn: session.messagesIn,
        messagesOut: session.messagesOut,
      },
      'websocket closed',
    );
  }
}

/**
 * Runs the app's bearer middleware again for an open socket: the token it was opened with may have
 * been revoked since (integrated mode deletes the grant; an introspecting resource server learns
 * it within INTROSPECTION_CACHE_TTL_SECONDS). The middleware reads the method and the
 * Authorization header and answers a refusal through `set`/`status`/`json`, so a stand-in
 * request and response are all it needs. An unreachable authorization server (503) or a failure
 * is `unavailable`: the socket serves on, as HTTP clients would retry.
 */
function reauthenticator(authenticate: RequestHandler): (authorization: string | undefined) => Promise<TokenVerdict> {
  return (authorization) =>
    new Promise<TokenVerdict>((resolve) => {
      const req = { method: 'GET', headers: authorization === undefined ? {} : { authorization } } as Request;
      let status = 200;
      const res = {
        set: () => res,
        setHeader: () => res,
        status: (code: number) => {
          status = code;
          return res;
        },
        json: () => {
          resolve(status >= 500 ? 'unavailable' : 'refused');
          return res;
        },
      } as unknown as Response;
      try {
        const pending: unknown = authenticate(req, res, (err?: unknown) => resolve(err ? 'unavailable' : 'ok'));
        if (pending instanceof Promise) pending.catch(() => resolve('unavailable'));
      } catch {
        resolve('unavailable');
      }
    });
}

/**
 * Node ≥ 22.21 (`shouldUpgradeCallback` server option): only a WebSocket upgrade of /ws leaves the
 * ordinary request path; any other Upgrade header is ignored (RFC 9110 §7.8), body and all.
 */
export function shouldUpgrade(req: IncomingMessage): boolean {
  return isWebSocketPath(req.url) && (req.headers.upgrade ?? '').toLowerCase() === 'websocket';
}

function isWebSocketPath(url: string | undefined): boolean {
  return url === WEBSOCKET_PATH || (url !== undefined && url.startsWith(`${WEBSOCKET_PATH}?`));
}

function hasBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

/**
 * An ordinary response object writing to an upgrade request's socket, so the Express middleware
 * (and their refusals) work unchanged. The connection closes after the answer: nothing else will
 * parse HTTP on this socket.
 */
function responseOnSocket(req: IncomingMessage, socket: Duplex, Res: UpgradeWiring['responseClass']): ServerResponse {
  const res = new Res(req);
  // Express's response methods read the request through `req.res` (as `app.handle` links them).
  (req as IncomingMessage & { res?: ServerResponse }).res = res;
  res.shouldKeepAlive = false;
  res.assignSocket(socket as never);
  res.on('finish', () => {
    res.detachSocket(socket as never);
    const closing = socket as Duplex & { destroySoon?: () => void };
    if (typeof closing.destroySoon === 'function') closing.destroySoon();
    else socket.end();
  });
  // Before the handshake nobody else listens for socket errors (a reset client must not crash us).
  socket.on('error', () => socket.destroy());
  return res;
}

interface HandshakeRefusal {
  status: number;
  message: string;
  headers?: Record<string, string>;
}

/**
 * The opening handshake's requirements (RFC 6455 §4.2.1), checked here so every refusal is a
 * JSON-RPC error body like the rest of the MCP endpoints (the `ws` library would answer in text/html).
 */
function handshakeRefusal(req: IncomingMessage): HandshakeRefusal | undefined {
  if (req.method !== 'GET') return { status: 405, message: 'Method not allowed', headers: { Allow: 'GET' } };
  if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
    return { status: 426, message: 'Upgrade Required: Upgrade: websocket', headers: { Upgrade: 'websocket' } };
  }
  const key = req.headers['sec-websocket-key'];
  if (typeof key !== 'string' || !WEBSOCKET_KEY.test(key.trim()))
    return { status: 400, message: 'Bad Request: invalid Sec-WebSocket-Key' };
  if (req.headers['sec-websocket-version'] !== '13') {
    return {
      status: 426,
      message: 'Upgrade Required: Sec-WebSocket-Version 13',
      headers: { 'Sec-WebSocket-Version': '13' },
    };
  }
  const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
  if (offered.some((p) => !TOKEN.test(p)) || !offered.includes(MCP_SUBPROTOCOL)) {
    return { status: 400, message: `Bad Request: Sec-WebSocket-Protocol must offer "${MCP_SUBPROTOCOL}"` };
  }
  return undefined;
}

function unavailable(res: Response, message: string): void {
  res.setHeader('Retry-After', '1');
  sendJsonRpcError(res, 503, JsonRpcCode.ServerError, message);
}
