/**
 * One session hosted on this instance: its McpServer, its HostTransport, and the subscription to
 * the session's inbound channel through which every instance hands it the client's messages.
 *
 * A legacy HTTP+SSE (2024-11-05) session differs in two ways: its requests carry no reply channel
 * (every answer goes to the /sse stream through the outbound channel), and its initialize request
 * arrives after the session exists, so the host records it for takeover replay when it succeeds.
 *
 * Passivation (MAX_LIVE_SESSIONS_PER_INSTANCE, docs/architecture.md "Passivation"): an idle host
 * may drop its McpServer and HostTransport and keep only the inbound subscription and this small
 * object. The next client message rebuilds the server from Redis exactly as a takeover does
 * (stored initialize replayed, log level and subscriptions read from Redis); messages that arrive
 * meanwhile wait, in order. Touches, deletes and change notifications need no server.
 */
import {
  isSpecType,
  type AuthInfo,
  type JSONRPCMessage,
  type JSONRPCRequest,
  type LoggingLevel,
  type McpServer,
} from '@modelcontextprotocol/server';
import type { Redis } from 'ioredis';
import { LegacyWireTransport } from '../mcp/legacyWire.js';
import type { SessionState } from '../mcp/sessionState.js';
import type { Logger } from '../observability/logger.js';
import { REQUEST_ID_LOG_KEY } from '../observability/requestLog.js';
import type { Keyspace } from '../redis/keys.js';
import type { Bus } from './bus.js';
import {
  decodeOrDrop,
  encode,
  InboundHeaderSchema,
  type Caller,
  type Envelope,
  type InboundHeader,
} from './envelope.js';

/** The header of a client message (`type: 'msg'`) on the session's inbound channel. */
type InboundMessageHeader = Extract<InboundHeader, { type: 'msg' }>;
import { GET_STREAM, requestStreamId, type EventKind, type EventLog } from './eventLog.js';
import { HostTransport, logAndPublish } from './hostTransport.js';
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
  /**
   * A client message reached the host (touches excluded): it is now the most recently used
   * session, and others may have to leave memory (RoutingInstance's LRU).
   */
  onUsed?(host: SessionHost): void;
  /** A passivated host rebuilt its server for a message. */
  onRehydrated?(host: SessionHost): void;
}

export class SessionHost {
  lastActivity = Date.now();
  /** Both undefined while the session is passivated (or before `open`). */
  private transport: HostTransport | undefined;
  private server: McpServer | undefined;
  /** Inbound payloads that arrived while passivated, delivered in order once the server is back. */
  private waiting: Array<Envelope<InboundMessageHeader>> | undefined;
  private waking: Promise<void> | undefined;
  /**
   * A passivated session's resource subscriptions, read once when it left memory: only its live
   * server changes them (resources/subscribe is a request, and a session with one in flight stays
   * live), so change events need no Redis read per passivated session.
   */
  private passivatedSubscriptions: string[] | undefined;
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
    const live = await this.build(this.logLevel);
    this.server = live.server;
    this.transport = live.transport;
    this.unsubscribe = await ctx.bus.subscribe(ctx.keys.sessionInbound(ref.u, ref.sessionId), (p) => this.onInbound(p));
  }

  private async build(level: LoggingLevel | undefined): Promise<{ server: McpServer; transport: HostTransport }> {
    const { ctx, ref } = this;
    const state = new RedisSessionState(ctx.redis, ctx.keys, ctx.store, ref, level);
    const server = ctx.serverFactory({ sessionId: ref.sessionId, userId: this.owner, state, log: this.log });
    const transport = new HostTransport({
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
    server.server.onerror = (err) => this.log.warn({ err: err.message }, 'mcp server error');
    // The SDK's public Transport interface is the whole seam between the server and the mesh; the
    // wrapper keeps the 2025-11-25 wire where SDK v2 would differ (src/mcp/legacyWire.ts).
    await server.connect(new LegacyWireTransport(transport));
    return { server, transport };
  }

  /** Rebuilds the protocol state of a session taken over from a dead host (see docs/architecture.md). */
  replay(initRequest: string): void {
    if (this.transport) replayInit(this.transport, initRequest);
  }

  /** The server is in memory (not passivated). */
  get isLive(): boolean {
    return this.server !== undefined;
  }

  /**
   * HTTP+SSE and WebSocket sessions live exactly as long as their connection and are never
   * passivated: the instance keeps them out of its LRU altogether.
   */
  get pinned(): boolean {
    return this.legacy || this.websocket;
  }

  /**
   * Nothing of the session lives only in this process: no client request in flight (which
   * includes a tool waiting for the client's answer to sampling or elicitation), no
   * server→client request awaiting an answer, not being rebuilt or closed. Legacy HTTP+SSE and
   * WebSocket sessions stay: they live exactly as long as their connection.
   */
  get passivatable(): boolean {
    const t = this.transport;
    return (
      t !== undefined &&
      !this.pinned &&
      this.closing === undefined &&
      this.waiting === undefined &&
      t.inflightCount === 0 &&
      t.pendingClientRequestCount === 0
    );
  }

  /**
   * Drops the server from memory when `passivatable`; decided synchronously, so the caller's view
   * stays consistent. The inbound subscription stays: the next message wakes the session here.
   */
  passivate(): Promise<void> | undefined {
    if (!this.passivatable) return undefined;
    const server = this.server!;
    this.server = undefined;
    this.transport = undefined;
    this.log.debug('session passivated');
    this.ctx.redis.smembers(this.ctx.keys.sessionSubscriptions(this.ref.u, this.ref.sessionId)).then(
      (subs) => {
        if (!this.isLive && this.waiting === undefined) this.passivatedSubscriptions = subs;
      },
      (err: Error) => this.log.debug({ err: err.message }, 'subscriptions of a passivated session unread'),
    );
    // Closing releases the server's change listener and timers (src/mcp/server.ts).
    return server
      .close()
      .catch((err: Error) => this.log.debug({ err: err.message }, 'closing a passivated server failed'));
  }

  /** The resource subscriptions of a passivated session (read from Redis until known). */
  subscriptions(): Promise<string[]> {
    if (this.passivatedSubscriptions) return Promise.resolve(this.passivatedSubscriptions);
    return this.ctx.redis.smembers(this.ctx.keys.sessionSubscriptions(this.ref.u, this.ref.sessionId));
  }

  /** Rebuilds a passivated session from Redis, then delivers what waited for it. */
  private wake(): Promise<void> {
    this.waking ??= this.doWake()
      .catch((err: Error) => {
        // Redis unreachable: the waiting requests learn it from their relay's timeout, and the
        // next message tries again.
        this.log.warn({ err: err.message }, 'could not rehydrate a passivated session');
        this.waiting = undefined;
      })
      .finally(() => (this.waking = undefined));
    return this.waking;
  }

  private async doWake(): Promise<void> {
    const { ctx, ref } = this;
    const meta = await ctx.store.load(ref);
    if (this.closing !== undefined) return this.refuseWaiting();
    if (!meta || meta.host !== ctx.instanceId) {
      // Expired, deleted, or (after a lost subscription) taken over elsewhere: not ours to serve.
      this.refuseWaiting();
      void this.close(false);
      return;
    }
    const level = isSpecType.LoggingLevel(meta.level) ? meta.level : undefined;
    const live = await this.build(level);
    if (meta.init !== undefined) replayInit(live.transport, meta.init);
    // The replayed initialize is handled before anything that waited (its handler records the
    // client's capabilities); one macrotask lets the SDK's dispatch run first.
    await new Promise((r) => setImmediate(r));
    if (this.closing !== undefined) {
      await live.server.close();
      return this.refuseWaiting();
    }
    this.server = live.server;
    this.transport = live.transport;
    const waiting = this.waiting ?? [];
    this.waiting = undefined;
    this.log.debug({ waiting: waiting.length }, 'session rehydrated');
    ctx.onRehydrated?.(this);
    for (const { header, body } of waiting) this.onInboundMessage(header, body);
  }

  /** Answers the requests that waited for a session that turned out to be gone. */
  private refuseWaiting(): void {
    const waiting = this.waiting ?? [];
    this.waiting = undefined;
    for (const { header } of waiting) {
      if (header.relayId === undefined) continue;
      this.ctx.bus.tryPublish(
        this.ctx.keys.reply(header.relayInstance, header.relayId),
        encode({ type: 'error', status: 404, code: -32001, message: 'Session not found' }),
      );
    }
  }

  /**
   * A server notification (a change event) for a passivated session: logged and published on the
   * GET stream exactly as HostTransport sends one, without rebuilding the server.
   */
  async notifyPassivated(raw: string): Promise<void> {
    if (this.isLive || this.closing !== undefined) return;
    const { ctx, ref } = this;
    const deps = {
      publish: (channel: string, payload: string) => ctx.bus.publish(channel, payload),
      logEvent: (streamId: string, kind: EventKind, body?: string, final?: boolean) =>
        ctx.events.append(ref, streamId, kind, body, final),
      log: this.log,
    };
    await logAndPublish(deps, GET_STREAM, ctx.keys.sessionOutbound(ref.u, ref.sessionId), raw, false);
  }

  async heartbeat(now: number, quietMs: number): Promise<void> {
    await this.transport?.heartbeat(now, quietMs);
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
        return this.onInboundMessage(header, body);
    }
  }

  /** A client message: served, or, while the session is passivated, kept (decoded) until it is back. */
  private onInboundMessage(header: InboundMessageHeader, body: string | undefined): void {
    if (body === undefined) return;
    if (this.transport === undefined) {
      // Passivated (or waking up): the message waits for the server, in arrival order.
      this.passivatedSubscriptions = undefined;
      (this.waiting ??= []).push({ header, body });
      void this.wake();
      return;
    }
    this.ctx.onUsed?.(this);
    this.onMessage(
      JSON.parse(body) as JSONRPCMessage,
      body,
      header.caller,
      header.relayId && this.ctx.keys.reply(header.relayInstance, header.relayId),
      // Only a stream the client can resume is worth logging.
      header.resumable === true && header.relayId !== undefined
        ? requestStreamId(header.relayInstance, header.relayId)
        : undefined,
      header.httpRequestId,
    );
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
    const transport = this.transport!;
    if ('method' in message) this.ctx.onMessage?.(message.method);
    if ('method' in message && 'id' in message) {
      if (this.legacy) return this.onLegacyRequest(message, raw, authInfo, replyChannel, rid);
      if (replyChannel === undefined) return;
      const refuse = (status: number, code: number, text: string) =>
        this.ctx.bus.tryPublish(replyChannel, encode({ type: 'error', status, code, message: text }));
      if (transport.isInflight(message.id))
        return refuse(409, -32600, `request id ${String(message.id)} is already in flight`);
      if (transport.inflightCount >= this.ctx.maxInflightPerSession) {
        return refuse(
          429,
          -32000,
          `too many concurrent requests in this session (max ${this.ctx.maxInflightPerSession})`,
        );
      }
      // Recorded for takeover replay once it succeeds (a Streamable HTTP session got it at creation).
      if (this.websocket && message.method === 'initialize') this.pendingInit = raw;
      this.log.debug({ [REQUEST_ID_LOG_KEY]: rid, method: message.method, id: message.id }, 'request');
      transport.deliver(message, { authInfo }, replyChannel, streamId);
      return;
    }
    transport.deliver(message, { authInfo });
    if ('method' in message && message.method === 'notifications/cancelled') {
      // The SDK aborts the handler and sends no response (spec: cancellation); end the stream.
      const id = (message.params as { requestId?: string | number } | undefined)?.requestId;
      if (id !== undefined) {
        transport
          .end(id, 'cancelled')
          .catch((err: Error) => this.log.debug({ err: err.message }, 'ending a cancelled request failed'));
      }
    }
  }

  /**
   * A request of an HTTP+SSE session: its POST was already answered 202, so a refusal travels as a
   * JSON-RPC error response on the /sse stream (2024-11-05: every response rides the stream).
   */
  private onLegacyRequest(
    message: JSONRPCRequest,
    raw: string,
    authInfo: AuthInfo,
    replyChannel: string | undefined,
    rid?: string,
  ): void {
    if (replyChannel !== undefined) {
      // A POST /mcp naming a legacy session: its answer would go to the /sse stream, never to
      // the waiting POST; refuse it there instead of letting it time out.
      const text = 'This session uses the HTTP+SSE transport: POST to its /message endpoint';
      return this.ctx.bus.tryPublish(replyChannel, encode({ type: 'error', status: 400, code: -32600, message: text }));
    }
    const transport = this.transport!;
    const outbound = this.ctx.keys.sessionOutbound(this.ref.u, this.ref.sessionId);
    const refuse = (code: number, text: string) =>
      this.ctx.bus.tryPublish(
        outbound,
        encode({ type: 'msg' }, JSON.stringify({ jsonrpc: '2.0', id: message.id, error: { code, message: text } })),
      );
    if (transport.isInflight(message.id))
      return refuse(-32600, `request id ${String(message.id)} is already in flight`);
    if (transport.inflightCount >= this.ctx.maxInflightPerSession) {
      return refuse(-32000, `too many concurrent requests in this session (max ${this.ctx.maxInflightPerSession})`);
    }
    if (message.method === 'initialize') this.pendingInit = raw;
    this.log.debug({ [REQUEST_ID_LOG_KEY]: rid, method: message.method, id: message.id }, 'request');
    transport.deliver(message, { authInfo });
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
    const inflight = () => (this.transport?.inflightCount ?? 0) > 0 || this.waiting !== undefined;
    if (this.legacy || this.websocket || inflight()) return true;
    const getStream = await this.ctx.redis.exists(this.ctx.keys.sessionGetStream(this.ref.u, this.ref.sessionId));
    // Checked again after the round trip: a request may have arrived meanwhile.
    return getStream === 1 || inflight();
  }

  private async closeIfIdle(reply: string): Promise<void> {
    if (this.closing === undefined && (await this.isBusy())) {
      this.ctx.bus.tryPublish(reply, encode({ type: 'error', status: 409, code: -32000, message: 'session busy' }));
      return;
    }
    // Two instances may pick the same victim at once: only the command that ended it says so.
    const first = this.closing === undefined;
    await this.close(true);
    this.ctx.bus.tryPublish(
      reply,
      encode(first ? { type: 'deleted' } : { type: 'error', status: 404, code: -32001, message: 'Session not found' }),
    );
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
      await this.server?.close();
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'error while closing session');
    } finally {
      this.onClosed(this);
      this.log.debug({ deleteState }, 'session host closed');
    }
  }
}

function replayInit(transport: HostTransport, initRequest: string): void {
  transport.replay(JSON.parse(initRequest) as JSONRPCMessage);
  transport.replay({ jsonrpc: '2.0', method: 'notifications/initialized' });
}
