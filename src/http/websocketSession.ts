/**
 * One WebSocket's MCP session on the routing mesh: the relay between one socket and the session's
 * host, wherever that runs. It is the legacy /sse stream's sibling (one long-lived connection
 * carries all of the session's server→client traffic) with Streamable HTTP's per-request routing
 * underneath, so a socket gets the same guarantees as a POST:
 *   - the session exists from the upgrade on (created before the 101, so the per-user cap answers
 *     as plain HTTP), hosted on this instance; the socket listens on its outbound channel, so
 *     notifications and server→client requests unrelated to any call reach it; the first frame
 *     must be `initialize` (the host stores it for takeover replay once it succeeds);
 *   - each client request opens a relay (reply channel): its answer and everything related to it
 *     (progress, logs, sampling, elicitation) come back there and go out as text frames; a host
 *     that stays silent for RELAY_TIMEOUT_MS yields a JSON-RPC error with the request's id instead
 *     of a request that never ends, and the next message takes the session over from a dead host;
 *   - notifications and the client's answers to server→client requests are delivered without a
 *     reply channel, like a 202 POST.
 * The session lives as long as the socket: when the socket closes, for whatever reason, the
 * session ends on every instance (the client starts a new one when it reconnects).
 *
 * Frames are never logged, only counted: message bodies and tokens stay out of the logs.
 */
import {
  isSpecType,
  PROTOCOL_VERSION_META_KEY,
  type JSONRPCMessage,
  type JSONRPCRequest,
} from '@modelcontextprotocol/server';
import type { WebSocket } from 'ws';
import type { Logger } from '../observability/logger.js';
import type { Caller, EventSink, OpenRequest, ReplyHeader, SessionRef, SessionStreams } from '../routing/streams.js';
import { JsonRpcCode, jsonRpcErrorBody } from './jsonRpcError.js';
import { reasonOfPeerClose, SERVER_CLOSES, type CloseReason, type ServerClose } from './websocketCloseCodes.js';

export interface WebSocketSessionDeps {
  /** The routing mesh. */
  mesh: SessionStreams;
  /** More than this many bytes still unsent when the next message is due: the consumer is too slow. */
  sendBufferBytes: number;
  /** Counts one text frame received (`in`) or sent (`out`). */
  onFrame?(direction: 'in' | 'out'): void;
  /** A slow consumer was detected (the socket is being closed with 4008). */
  onSlowConsumer?(): void;
  /**
   * Counts one message against the user's rate limit (the counter of /mcp); resolves to the seconds
   * until the window resets when the budget is spent. Absent when rate limits are off.
   */
  countMessage?: () => Promise<number | undefined>;
  /** Asks the token verifier again whether the socket's token is still accepted (each keep-alive tick). */
  reauthenticate?: () => Promise<'ok' | 'refused' | 'unavailable'>;
}

/** How a socket ended, for the endpoint's metrics and log line. */
export interface SocketEnd {
  reason: CloseReason;
  /** The close code the server sent, or the peer's (1006 when the connection just dropped). */
  code: number;
}

type RpcId = string | number | null;

/** setTimeout's ceiling (about 24.8 days); a later expiry is re-armed when it fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class WebSocketSession {
  readonly opened = Date.now();
  messagesIn = 0;
  messagesOut = 0;
  /** Undefined once released: the socket is closing and its session ended or being ended. */
  private ref: SessionRef | undefined;
  /** The client sent `initialize` (one per socket). */
  private initialized = false;
  /** Client requests waiting for their answer. */
  private readonly requests = new Set<OpenRequest>();
  /** Set once the socket is closing; the first cause wins. */
  private end: SocketEnd | undefined;
  /** The peer answered the last ping (RFC 6455 §5.5.2–3). */
  private alive = true;
  private expiry: NodeJS.Timeout | undefined;
  private protocolError = false;
  /** A re-authentication is under way (one at a time, however slow the verifier). */
  private reauthenticating = false;
  /** Frames wait here for their rate-limit verdict, in arrival order (the counts run concurrently). */
  private verdicts: Promise<unknown> = Promise.resolve();
  /** The session's id, kept for the close log line after the session is released. */
  readonly sessionId: string;
  /** The session's end on the mesh, once started (awaited by a graceful shutdown). */
  ending: Promise<unknown> | undefined;
  /** Resolves when the socket has closed. */
  readonly closed: Promise<void>;
  private markClosed!: () => void;

  constructor(
    private readonly ws: WebSocket,
    private readonly deps: WebSocketSessionDeps,
    session: SessionRef,
    /** Stops listening on the session's outbound channel (subscribed before the 101). */
    private unsubscribe: (() => Promise<void>) | undefined,
    private readonly caller: Caller,
    /** Request id of the upgrade: travels with every message, so the host logs the same `reqId`. */
    private readonly rid: string,
    private readonly log: Logger,
    private readonly onEnded: (session: WebSocketSession, end: SocketEnd) => void,
  ) {
    this.ref = session;
    this.sessionId = session.sessionId;
    this.closed = new Promise((resolve) => (this.markClosed = resolve));
    ws.on('message', (data, isBinary) => {
      if (isBinary) return this.close(SERVER_CLOSES.binaryFrame);
      this.messagesIn++;
      deps.onFrame?.('in');
      this.onFrame((data as Buffer).toString('utf8'));
    });
    ws.on('pong', () => (this.alive = true));
    // Receiver errors (oversized frame → 1009, invalid UTF-8 → 1007): `ws` closes with the right code itself.
    ws.on('error', (err) => {
      this.log.debug({ err: err.message }, 'websocket protocol error');
      this.protocolError = true;
    });
    ws.on('close', (code) => this.onSocketClosed(code));
    this.armExpiry();
  }

  /**
   * One keep-alive tick, first part (every tick): a peer that did not answer the previous ping is
   * gone (its TCP connection may stay half-open for a long time); otherwise ping again. Returns
   * whether the socket is still in service.
   */
  ping(): boolean {
    if (this.end) return false;
    if (!this.alive) {
      this.end = { reason: 'ping_timeout', code: 1006 };
      this.ws.terminate();
      return false;
    }
    this.alive = false;
    this.ws.ping();
    return true;
  }

  /**
   * One keep-alive tick, second part (Redis work, batched by the endpoint): check that the token is
   * still accepted (revocation), and tell the host the client is still there, so the session does
   * not idle out (and a dead host is replaced now, not at the next request). Resolves once both are
   * answered; never rejects.
   */
  async checkIn(): Promise<void> {
    if (this.end) return;
    const ref = this.ref;
    await Promise.all([
      this.checkToken(),
      ref &&
        this.deps.mesh.touch(ref).then(
          (result) => {
            if (result === 'gone') this.close(SERVER_CLOSES.sessionEnded);
          },
          (err: Error) => this.log.debug({ err: err.message }, 'websocket keep-alive touch failed'),
        ),
    ]);
  }

  /** A revoked token ends the socket as an expired one does; an unreachable verifier does not. */
  private async checkToken(): Promise<void> {
    const reauthenticate = this.deps.reauthenticate;
    if (!reauthenticate || this.reauthenticating) return;
    this.reauthenticating = true;
    try {
      const verdict = await reauthenticate();
      if (verdict === 'refused') this.close(SERVER_CLOSES.tokenRevoked);
      else if (verdict === 'unavailable') this.log.debug('websocket token check inconclusive: serving on');
    } catch (err) {
      this.log.debug({ err: (err as Error).message }, 'websocket token check failed: serving on');
    } finally {
      this.reauthenticating = false;
    }
  }

  /** Closes the socket with one of the server's close codes and ends the session on the mesh. */
  close(how: ServerClose): void {
    if (this.end) return;
    this.end = { reason: how.reason, code: how.code };
    this.ws.close(how.code, how.text);
    this.release(how.reason !== 'session_ended');
  }

  /** Drops the socket without a close frame or a session end, as a crashed process would (tests). */
  abandon(): void {
    this.end ??= { reason: 'internal_error', code: 1006 };
    this.release(false);
    this.ws.terminate();
  }

  private onFrame(raw: string): void {
    const count = this.deps.countMessage;
    if (!count) return this.handleFrame(raw, undefined);
    const verdict = count();
    const handled = this.verdicts.then(() => verdict).then((retryAfter) => this.handleFrame(raw, retryAfter));
    this.verdicts = handled.catch((err: unknown) => this.log.error({ err }, 'websocket frame failed'));
  }

  /** One text frame; `retryAfter` is set when the user's rate limit is spent. */
  private handleFrame(raw: string, retryAfter: number | undefined): void {
    const ref = this.ref;
    if (this.end || !ref) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      return this.sendError(JsonRpcCode.ParseError, 'Parse error: frame is not valid JSON', null);
    }
    if (Array.isArray(parsed))
      return this.sendError(JsonRpcCode.InvalidRequest, 'Invalid Request: batches are not supported', null);
    if (!isSpecType.JSONRPCMessage(parsed)) {
      const id = (parsed as { id?: unknown } | null)?.id;
      return this.sendError(
        JsonRpcCode.InvalidRequest,
        'Invalid Request: not a JSON-RPC 2.0 message',
        typeof id === 'string' || typeof id === 'number' ? id : null,
      );
    }
    const message = parsed;
    const isRequest = 'method' in message && 'id' in message;
    if (retryAfter !== undefined) {
      // As a 429 on /mcp: a request gets the error, anything else is dropped.
      if (isRequest)
        this.sendError(JsonRpcCode.ServerError, `Rate limit exceeded; retry after ${retryAfter} s`, message.id);
      else this.log.debug('rate limit exceeded: websocket message dropped');
      return;
    }
    if (claimsPerRequestVersion(message)) {
      // Spec 2026-07-28 has no WebSocket transport and no sessions: its per-request envelope is
      // served statelessly on POST /mcp. A socket speaks the 2025-11-25 session protocol only.
      if (isRequest) {
        this.sendError(
          JsonRpcCode.InvalidRequest,
          'Invalid Request: WebSocket sessions speak the 2025-11-25 session protocol (initialize first); per-request protocol versions are served on POST /mcp',
          message.id,
        );
      }
      return;
    }
    if (isRequest && message.method === 'initialize') {
      if (this.initialized)
        return this.sendError(
          JsonRpcCode.InvalidRequest,
          'Invalid Request: this socket already has an initialized session',
          message.id,
        );
      this.initialized = true;
    } else if (!this.initialized) {
      // Lifecycle (2025-11-25): nothing but pings before initialize.
      if (!isRequest) return;
      if (message.method === 'ping') return this.send(JSON.stringify({ jsonrpc: '2.0', id: message.id, result: {} }));
      return this.sendError(JsonRpcCode.InvalidRequest, 'Invalid Request: send initialize first', message.id);
    }
    if (isRequest) this.relayRequest(ref, message, raw);
    else this.deliverOneWay(ref, raw);
  }

  /** A client request: its answer and related messages come back on a reply channel of this instance. */
  private relayRequest(ref: SessionRef, message: JSONRPCRequest, raw: string): void {
    const id = message.id;
    const request: OpenRequest = this.deps.mesh.request(
      ref,
      raw,
      { caller: this.caller, httpRequestId: this.rid },
      {
        onReply: (header, body) => this.onReply(request, id, header, body),
        onTimeout: () => {
          this.requests.delete(request);
          this.log.warn({ session: ref.sessionId }, 'session host did not answer in time');
          this.sendError(JsonRpcCode.ServerError, 'Session host did not respond in time', id);
        },
      },
    );
    this.requests.add(request);
    request.delivery.then(
      (result) => {
        if (result === 'delivered') return;
        this.requests.delete(request);
        if (result === 'gone') this.sessionGone(id);
        else this.sendError(JsonRpcCode.ServerError, 'Session host unavailable, retry shortly', id);
      },
      (err: Error) => {
        this.requests.delete(request);
        this.log.error({ err: err.message }, 'websocket request could not be routed');
        this.sendError(JsonRpcCode.InternalError, 'Internal error', id);
      },
    );
  }

  private onReply(request: OpenRequest, id: string | number, header: ReplyHeader, body: string | undefined): void {
    switch (header.type) {
      case 'msg':
        if (header.final) this.requests.delete(request);
        if (body !== undefined) this.send(body);
        return;
      case 'error':
        // Refused by the host (a duplicate id in flight, too many concurrent requests).
        this.requests.delete(request);
        return this.sendError(header.code, header.message, id);
      case 'end':
      case 'deleted':
      case 'close':
        // Cancelled (no response, as the spec says) or ended with the session.
        this.requests.delete(request);
        return;
      case 'alive':
        return;
    }
  }

  /** A notification, or the client's answer to a server→client request: delivered, nothing comes back. */
  private deliverOneWay(ref: SessionRef, raw: string): void {
    this.deps.mesh.send(ref, raw, { caller: this.caller, httpRequestId: this.rid }).then(
      (result) => {
        if (result === 'gone') this.sessionGone(null);
        else if (result === 'unavailable')
          this.log.warn({ session: ref.sessionId }, 'websocket notification dropped: session host unavailable');
      },
      (err: Error) => this.log.error({ err: err.message }, 'websocket notification could not be routed'),
    );
  }

  /** The session's outbound channel: server messages unrelated to a request, and the session's end. */
  readonly outbound: EventSink = {
    message: (body) => this.send(body),
    // Ended elsewhere: DELETE /sessions/<id>, idle expiry.
    end: () => this.close(SERVER_CLOSES.sessionEnded),
  };

  /** The session is gone (ended elsewhere, or its state expired): say so, then close. */
  private sessionGone(id: RpcId): void {
    if (id !== null) this.sendError(JsonRpcCode.SessionNotFound, 'Session not found', id);
    this.close(SERVER_CLOSES.sessionEnded);
  }

  /**
   * One text frame out. The send buffer is bounded: a peer that leaves more than the limit unread
   * is cut off (4008) instead of growing this process's memory. A single message larger than the
   * limit still goes out when the buffer is below it, so the bound is the limit plus one message.
   */
  private send(raw: string): void {
    if (this.end) return;
    if (this.ws.bufferedAmount > this.deps.sendBufferBytes) {
      this.log.warn(
        { session: this.sessionId, buffered: this.ws.bufferedAmount },
        'websocket consumer too slow: closing',
      );
      this.deps.onSlowConsumer?.();
      return this.close(SERVER_CLOSES.slowConsumer);
    }
    this.ws.send(raw);
    this.messagesOut++;
    this.deps.onFrame?.('out');
  }

  private sendError(code: number, message: string, id: RpcId): void {
    this.send(JSON.stringify(jsonRpcErrorBody(code, message, id)));
  }

  /** A socket authorised by a token lives no longer than the token (the client reconnects with a fresh one). */
  private armExpiry(): void {
    const expiresAt = this.caller.expiresAt;
    if (expiresAt === undefined) return;
    const left = expiresAt * 1000 - Date.now();
    if (left > MAX_TIMER_MS) {
      this.expiry = setTimeout(() => this.armExpiry(), MAX_TIMER_MS);
    } else {
      this.expiry = setTimeout(() => this.close(SERVER_CLOSES.tokenExpired), Math.max(0, left));
    }
    this.expiry.unref();
  }

  private onSocketClosed(code: number): void {
    this.end ??= { reason: this.protocolError ? 'protocol_error' : reasonOfPeerClose(code), code };
    this.release(true);
    this.markClosed();
    this.onEnded(this, this.end);
  }

  /** Forgets the socket's requests, subscription and timer; with `endSession`, ends the session on the mesh. */
  private release(endSession: boolean): void {
    clearTimeout(this.expiry);
    const { mesh } = this.deps;
    for (const request of this.requests) request.cancel();
    this.requests.clear();
    const unsubscribe = this.unsubscribe;
    this.unsubscribe = undefined;
    void unsubscribe?.();
    const ref = this.ref;
    this.ref = undefined;
    if (ref && endSession) {
      this.ending = mesh.end(ref).then(
        (result) => this.log.debug({ session: ref.sessionId, result }, 'websocket closed: session ended'),
        (err: Error) => this.log.warn({ err: err.message, session: ref.sessionId }, 'could not end websocket session'),
      );
    }
  }
}

/** A 2026-07-28 message: its `_meta` claims a per-request protocol version (even a malformed one). */
function claimsPerRequestVersion(message: JSONRPCMessage): boolean {
  const params = 'params' in message ? (message.params as { _meta?: Record<string, unknown> } | undefined) : undefined;
  return params?._meta?.[PROTOCOL_VERSION_META_KEY] !== undefined;
}
