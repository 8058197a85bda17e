/**
 * One session hosted on this instance: its McpServer, its HostTransport, and the subscription to
 * the session's inbound channel through which every instance hands it the client's messages.
 *
 * A legacy HTTP+SSE (2024-11-05) session differs in two ways: its requests carry no reply channel
 * (every answer goes to the /sse stream through the outbound channel), and its initialize request
 * arrives after the session exists, so the host records it for takeover replay when it succeeds.
 */
import type { AuthInfo, JSONRPCMessage, JSONRPCRequest, LoggingLevel, McpServer } from '@modelcontextprotocol/server';
import type { Redis } from 'ioredis';
import { LegacyWireTransport } from '../mcp/legacyWire.js';
import type { SessionState } from '../mcp/sessionState.js';
import type { Logger } from '../observability/logger.js';
import { REQUEST_ID_LOG_KEY } from '../observability/requestLog.js';
import type { Keyspace } from '../redis/keys.js';
import type { Bus } from './bus.js';
import { decodeOrDrop, encode, InboundHeaderSchema, type Caller } from './envelope.js';
import { requestStreamId, type EventLog } from './eventLog.js';
import { HostTransport } from './hostTransport.js';
import { RedisSessionState } from './redisSessionState.js';
import type { SessionRef, SessionStore } from './sessionStore.js';

export interface ServerFactoryContext {
  sessionId: string;
  userId: string;
  state: SessionState;
  log: Logger;
}
export type ServerFactory = (ctx: ServerFactoryContext) => McpServer;

export interface HostContext {
  instanceId: string;
  bus: Bus;
  redis: Redis;
  keys: Keyspace;
  store: SessionStore;
  log: Logger;
  serverFactory: ServerFactory;
  /** The sessions' SSE event logs (resumability). */
  events: EventLog;
  maxInflightPerSession: number;
  maxPendingClientRequests: number;
  /** Observes every message a host receives (metrics). */
  onMessage?(method: string): void;
}

export class SessionHost {
  lastActivity = Date.now();
  private transport!: HostTransport;
  private server!: McpServer;
  private unsubscribe: (() => Promise<void>) | undefined;
  private closing: Promise<void> | undefined;
  private readonly log: Logger;
  /** Legacy or WebSocket session: the raw initialize request, stored in the meta once it succeeded. */
  private pendingInit: string | undefined;

  constructor(
    private readonly ctx: HostContext,
    readonly ref: SessionRef,
    private readonly owner: string,
    private readonly logLevel: LoggingLevel | undefined,
    /** HTTP+SSE session (meta `sse` set): every answer goes to the outbound channel. */
    private readonly legacy: boolean,
    /** WebSocket session (meta `ws` set): created before its initialize arrives, like a legacy one. */
    private readonly websocket: boolean,
    private readonly onClosed: (host: SessionHost) => void,
  ) {
    this.log = ctx.log.child({ session: ref.sessionId });
  }

  /** Builds the server and starts listening on the session's inbound channel. */
  async open(): Promise<void> {
    const { ctx, ref } = this;
    const state = new RedisSessionState(ctx.redis, ctx.keys, ctx.store, ref, this.logLevel);
    this.server = ctx.serverFactory({ sessionId: ref.sessionId, userId: this.owner, state, log: this.log });
    this.transport = new HostTransport({
      sessionId: ref.sessionId,
      publish: (channel, payload) => ctx.bus.publish(channel, payload),
      outboundChannel: ctx.keys.sessionOutbound(ref.u, ref.sessionId),
      log: this.log,
      maxPendingClientRequests: ctx.maxPendingClientRequests,
      routeAllToOutbound: this.legacy,
      logEvent: (streamId, kind, body, final) => ctx.events.append(ref, streamId, kind, body, final),
      onResponse: (message, req) => {
        if (req.method !== 'initialize') return;
        if ('result' in message && typeof message.result['protocolVersion'] === 'string') {
          const proto = message.result['protocolVersion'];
          const fields = this.pendingInit === undefined ? { proto } : { proto, init: this.pendingInit };
          this.pendingInit = undefined;
          ctx.store.setFields(ref, fields).catch((err: Error) => {
            this.log.error({ err: err.message }, 'could not record negotiated protocol version');
          });
        } else {
          // A failed initialize leaves nothing worth keeping.
          void this.close(true);
        }
      },
    });
    this.server.server.onerror = (err) => this.log.warn({ err: err.message }, 'mcp server error');
    // The SDK's public Transport interface is the whole seam between the server and the mesh; the
    // wrapper keeps the 2025-11-25 wire where SDK v2 would differ (src/mcp/legacyWire.ts).
    await this.server.connect(new LegacyWireTransport(this.transport));
    this.unsubscribe = await ctx.bus.subscribe(ctx.keys.sessionInbound(ref.u, ref.sessionId), (p) => this.onInbound(p));
  }

  /** Rebuilds the protocol state of a session taken over from a dead host (see docs/architecture.md). */
  replay(initRequest: string): void {
    this.transport.replay(JSON.parse(initRequest) as JSONRPCMessage);
    this.transport.replay({ jsonrpc: '2.0', method: 'notifications/initialized' });
  }

  async heartbeat(now: number, quietMs: number): Promise<void> {
    await this.transport.heartbeat(now, quietMs);
  }

  private onInbound(payload: string): void {
    const env = decodeOrDrop(InboundHeaderSchema, payload, this.log, 'inbound');
    if (!env) return;
    this.lastActivity = Date.now();
    const { header, body } = env;
    switch (header.type) {
      case 'touch':
        return;
      case 'delete': {
        const reply = this.ctx.keys.reply(header.relayInstance, header.relayId);
        if (header.ifIdle === true) return void this.closeIfIdle(reply);
        void this.close(true).then(() => this.ctx.bus.tryPublish(reply, encode({ type: 'deleted' })));
        return;
      }
      case 'msg':
        if (body === undefined) return;
        this.onMessage(
          JSON.parse(body) as JSONRPCMessage,
          body,
          header.caller,
          header.relayId && this.ctx.keys.reply(header.relayInstance, header.relayId),
          // Only a stream the client can resume is worth logging.
          header.resumable === true && header.relayId !== undefined ? requestStreamId(header.relayInstance, header.relayId) : undefined,
          header.httpRequestId,
        );
    }
  }

  private onMessage(
    message: JSONRPCMessage,
    raw: string,
    caller: Caller,
    replyChannel: string | undefined,
    streamId: string | undefined,
    rid?: string,
  ): void {
    const authInfo: AuthInfo = {
      token: '',
      clientId: caller.clientId,
      scopes: caller.scopes,
      expiresAt: caller.expiresAt,
      extra: { userId: caller.userId },
    };
    if ('method' in message) this.ctx.onMessage?.(message.method);
    if ('method' in message && 'id' in message) {
      if (this.legacy) return this.onLegacyRequest(message, raw, authInfo, replyChannel, rid);
      if (replyChannel === undefined) return;
      const refuse = (status: number, code: number, text: string) =>
        this.ctx.bus.tryPublish(replyChannel, encode({ type: 'error', status, code, message: text }));
      if (this.transport.isInflight(message.id)) return refuse(409, -32600, `request id ${String(message.id)} is already in flight`);
      if (this.transport.inflightCount >= this.ctx.maxInflightPerSession) {
        return refuse(429, -32000, `too many concurrent requests in this session (max ${this.ctx.maxInflightPerSession})`);
      }
      // Recorded for takeover replay once it succeeds (a Streamable HTTP session got it at creation).
      if (this.websocket && message.method === 'initialize') this.pendingInit = raw;
      this.log.debug({ [REQUEST_ID_LOG_KEY]: rid, method: message.method, id: message.id }, 'request');
      this.transport.deliver(message, { authInfo }, replyChannel, streamId);
      return;
    }
    this.transport.deliver(message, { authInfo });
    if ('method' in message && message.method === 'notifications/cancelled') {
      // The SDK aborts the handler and sends no response (spec: cancellation); end the stream.
      const id = (message.params as { requestId?: string | number } | undefined)?.requestId;
      if (id !== undefined) {
        this.transport.end(id, 'cancelled').catch((err: Error) => this.log.debug({ err: err.message }, 'ending a cancelled request failed'));
      }
    }
  }

  /**
   * A request of an HTTP+SSE session: its POST was already answered 202, so a refusal travels as a
   * JSON-RPC error response on the /sse stream (2024-11-05: every response rides the stream).
   */
  private onLegacyRequest(message: JSONRPCRequest, raw: string, authInfo: AuthInfo, replyChannel: string | undefined, rid?: string): void {
    if (replyChannel !== undefined) {
      // A POST /mcp naming a legacy session: its answer would go to the /sse stream, never to
      // the waiting POST; refuse it there instead of letting it time out.
      const text = 'This session uses the HTTP+SSE transport: POST to its /message endpoint';
      return this.ctx.bus.tryPublish(replyChannel, encode({ type: 'error', status: 400, code: -32600, message: text }));
    }
    const outbound = this.ctx.keys.sessionOutbound(this.ref.u, this.ref.sessionId);
    const refuse = (code: number, text: string) =>
      this.ctx.bus.tryPublish(outbound, encode({ type: 'msg' }, JSON.stringify({ jsonrpc: '2.0', id: message.id, error: { code, message: text } })));
    if (this.transport.isInflight(message.id)) return refuse(-32600, `request id ${String(message.id)} is already in flight`);
    if (this.transport.inflightCount >= this.ctx.maxInflightPerSession) {
      return refuse(-32000, `too many concurrent requests in this session (max ${this.ctx.maxInflightPerSession})`);
    }
    if (message.method === 'initialize') this.pendingInit = raw;
    this.log.debug({ [REQUEST_ID_LOG_KEY]: rid, method: message.method, id: message.id }, 'request');
    this.transport.deliver(message, { authInfo });
  }

  /**
   * Busy = the session is in use, so the per-user cap must not end it (src/routing/sessionCap.ts):
   * a client request is in flight here (including one waiting for the client's answer to a
   * sampling or elicitation request), or a standalone GET stream is open on any instance (its
   * lease key exists), or it is an HTTP+SSE session (it lives exactly as long as its open stream).
   */
  private async isBusy(): Promise<boolean> {
    // Legacy SSE and WebSocket sessions live exactly as long as their connection: while it is
    // open, ending the session would cut off a client that is still there.
    if (this.legacy || this.websocket || this.transport.inflightCount > 0) return true;
    const getStream = await this.ctx.redis.exists(this.ctx.keys.sessionGetStream(this.ref.u, this.ref.sessionId));
    // Checked again after the round trip: a request may have arrived meanwhile.
    return getStream === 1 || this.transport.inflightCount > 0;
  }

  private async closeIfIdle(reply: string): Promise<void> {
    if (this.closing === undefined && (await this.isBusy())) {
      this.ctx.bus.tryPublish(reply, encode({ type: 'error', status: 409, code: -32000, message: 'session busy' }));
      return;
    }
    // Two instances may pick the same victim at once: only the command that ended it says so.
    const first = this.closing === undefined;
    await this.close(true);
    this.ctx.bus.tryPublish(reply, encode(first ? { type: 'deleted' } : { type: 'error', status: 404, code: -32001, message: 'Session not found' }));
  }

  /**
   * Ends hosting. With `deleteState` the session is over for good (DELETE, idle expiry): its keys
   * go first, so no other instance can take it over, and open GET streams are told. Without it
   * (graceful shutdown) the state stays in Redis for another instance to take over.
   */
  close(deleteState: boolean): Promise<void> {
    this.closing ??= this.doClose(deleteState);
    return this.closing;
  }

  private async doClose(deleteState: boolean): Promise<void> {
    const { ctx, ref } = this;
    try {
      if (deleteState) {
        await ctx.store.delete(ref);
        await ctx.bus.publish(ctx.keys.sessionOutbound(ref.u, ref.sessionId), encode({ type: 'closed' }));
      }
      await this.unsubscribe?.();
      await this.server.close();
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'error while closing session');
    } finally {
      this.onClosed(this);
      this.log.debug({ deleteState }, 'session host closed');
    }
  }
}

