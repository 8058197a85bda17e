/**
 * One server instance's share of the routing mesh: the bus, the relay for client-facing requests,
 * the sessions hosted here, and the timers that keep them honest (relay timeouts, heartbeats for
 * slow requests, idle eviction, TTL refresh, this instance's liveness key).
 *
 * Delivery: a message for a session is PUBLISHed on the session's inbound channel. Redis answers
 * with the number of receivers, so "nobody hosts this session" is known at once: then the session
 * is either unknown (404), owned by someone else (their channel name differs: also 404), or its
 * host died, in which case this instance takes it over by replaying the stored initialize request.
 */
import { randomUUID } from 'node:crypto';
import {
  isSpecType,
  type JSONRPCNotification,
  type LoggingLevel,
  type ServerEvent,
  type ServerEventBus,
} from '@modelcontextprotocol/server';
import type { Redis } from 'ioredis';
import type { Logger } from '../observability/logger.js';
import { sessionOwnerKey, type Keyspace } from '../redis/keys.js';
import type { PubSub } from '../redis/pubsub.js';
import { Bus } from './bus.js';
import { encode, type Caller } from './envelope.js';
import { EventLog } from './eventLog.js';
import { Relay } from './relay.js';
import { SessionCap, type EvictionResult } from './sessionCap.js';
import { SessionHost, type HostContext, type ServerFactory } from './sessionHost.js';
import { SessionStore, type SessionMeta, type SessionRef } from './sessionStore.js';

export interface RoutingOptions {
  instanceId?: string;
  serverFactory: ServerFactory;
  relayTimeoutMs: number;
  idleTtlMs: number;
  maxSessionsPerUser: number;
  maxInflightPerSession: number;
  maxPendingClientRequests: number;
  /**
   * Live (in-memory) hosted sessions kept at most; beyond it the least recently used idle ones are
   * passivated (docs/architecture.md, "Passivation"). Unset = no bound.
   */
  maxLiveSessions?: number;
  /** Metrics hooks. */
  onMessage?: (method: string) => void;
  onRoutingLatency?: (ms: number) => void;
  /** An idle session was ended to make room under the per-user cap / a session was refused at the cap. */
  onSessionEvicted?: () => void;
  onSessionRefused?: () => void;
  /** A hosted session left memory / was rebuilt from Redis for a message. */
  onSessionPassivated?: () => void;
  onSessionRehydrated?: () => void;
}

/** What a change event means to one session: the notification to send it, if any. */
export type ChangeNotifier = (
  event: ServerEvent,
  subscriptions: () => Promise<string[]>,
) => Promise<JSONRPCNotification | undefined>;

export type DeliveryResult = 'delivered' | 'gone' | 'unavailable';
/** `timeout`: the host took the delete but did not confirm it within the relay timeout. */
export type EndSessionResult = 'deleted' | 'gone' | 'unavailable' | 'timeout';

export interface CreateSessionOptions {
  /**
   * Legacy HTTP+SSE (2024-11-05) session whose /sse stream is held by this instance: every answer
   * goes to that stream, and the initialize request arrives later through POST /message.
   */
  legacySse?: boolean;
  /**
   * WebSocket session whose socket is held by this instance (recorded as `ws` in the session record).
   * It is created at the upgrade, before its initialize request arrives on the socket.
   */
  websocket?: boolean;
}

export class SessionLimitError extends Error {
  override name = 'SessionLimitError';
}

/** How a host answers a delete made conditional on the session being idle (SessionHost.closeIfIdle). */
const IDLE_DELETE_REFUSALS: Record<number, EvictionResult> = { 409: 'busy', 404: 'gone' };

const INSTANCE_ID = /^[A-Za-z0-9-]{1,64}$/;
const LIVENESS_INTERVAL_MS = 2000;
const LIVENESS_TTL_MS = 3 * LIVENESS_INTERVAL_MS;

export class RoutingInstance {
  readonly instanceId: string;
  readonly bus: Bus;
  readonly relay: Relay;
  readonly store: SessionStore;
  readonly events: EventLog;
  private readonly hosts = new Map<string, SessionHost>();
  /**
   * The hosts whose server is in memory and may leave it, least recently used first (a Map keeps
   * insertion order; use = delete + set). Not lru-cache: eviction must skip busy sessions, and
   * lru-cache evicts whatever is oldest by itself. Pinned hosts (HTTP+SSE, WebSocket) are not in it.
   */
  private readonly live = new Map<string, SessionHost>();
  private readonly takeovers = new Map<string, Promise<'taken' | 'absent' | 'busy'>>();
  private readonly hostCtx: HostContext;
  private readonly cap: SessionCap;
  private readonly timers: NodeJS.Timeout[] = [];
  private lastRefresh = 0;
  /** Hosted HTTP+SSE and WebSocket sessions: always live, outside the LRU. */
  private readonly pinned = new Set<SessionHost>();

  constructor(
    private readonly redis: Redis,
    pubsub: PubSub,
    readonly keys: Keyspace,
    private readonly log: Logger,
    private readonly opts: RoutingOptions,
  ) {
    this.instanceId = opts.instanceId ?? randomUUID();
    // Instance ids name channels and keys and are part of SSE event ids (see eventLog.ts).
    if (!INSTANCE_ID.test(this.instanceId)) throw new Error(`instance id must match ${String(INSTANCE_ID)}`);
    this.bus = new Bus(pubsub, keys, log);
    this.store = new SessionStore(redis, keys, opts.idleTtlMs);
    this.events = new EventLog(redis, keys, opts.idleTtlMs);
    this.relay = new Relay(this.bus, keys, this.instanceId, log, opts.relayTimeoutMs, opts.onRoutingLatency);
    this.hostCtx = {
      instanceId: this.instanceId,
      bus: this.bus,
      redis,
      keys,
      store: this.store,
      log,
      serverFactory: opts.serverFactory,
      events: this.events,
      maxInflightPerSession: opts.maxInflightPerSession,
      maxPendingClientRequests: opts.maxPendingClientRequests,
      onMessage: opts.onMessage,
      onUsed: (h) => this.used(h),
      onRehydrated: (h) => {
        opts.onSessionRehydrated?.();
        this.used(h);
      },
    };
    this.cap = new SessionCap({
      store: this.store,
      max: opts.maxSessionsPerUser,
      endIfIdle: (ref) => this.endSessionIfIdle(ref),
      log,
      instanceId: this.instanceId,
      onEvicted: opts.onSessionEvicted,
      onRefused: opts.onSessionRefused,
    });
    // Redis forgets subscriptions when a subscriber connection drops (or, in a cluster, when a slot
    // moves), and other instances may then take our sessions over: stop serving the sessions whose
    // inbound channel went unheard rather than risk two hosts per session.
    this.bus.onLost((isLost) => {
      const lost = [...this.hosts.values()].filter((h) => isLost(keys.sessionInbound(h.ref.u, h.ref.sessionId)));
      if (lost.length === 0) return;
      this.log.warn({ sessions: lost.length }, 'subscriptions interrupted: releasing the sessions hosted on them');
      for (const h of lost) void h.close(false);
    });
  }

  async start(): Promise<void> {
    await this.relay.start();
    await this.beatLiveness();
    const fast = Math.max(25, Math.min(500, Math.floor(this.opts.relayTimeoutMs / 4)));
    this.every(fast, () => this.fastSweep());
    this.every(LIVENESS_INTERVAL_MS, () => this.slowSweep());
    this.log.info({ instance: this.instanceId }, 'routing instance started');
  }

  /**
   * Creates a session hosted here, owned by the caller. `initRequest` (the raw initialize request,
   * kept for takeover replay) is required for Streamable HTTP; a legacy or WebSocket session has none yet.
   */
  async createSession(
    caller: Caller,
    initRequest: string | undefined,
    opts: CreateSessionOptions = {},
  ): Promise<SessionRef> {
    const ref = { u: sessionOwnerKey(caller.userId, caller.clientId), sessionId: randomUUID() };
    if (!(await this.cap.admit(ref))) {
      throw new SessionLimitError(
        `too many open sessions for this user and client, all in use (max ${this.opts.maxSessionsPerUser})`,
      );
    }
    const meta: Omit<SessionMeta, 'seen'> = { owner: caller.userId, host: this.instanceId, created: Date.now() };
    if (initRequest !== undefined) meta.init = initRequest;
    if (opts.legacySse) meta.sse = this.instanceId;
    if (opts.websocket) meta.ws = this.instanceId;
    await this.store.create(ref, meta);
    await this.host(ref, caller.userId, undefined, opts.legacySse === true, opts.websocket === true);
    return ref;
  }

  /**
   * Ends a session for good, wherever it is hosted (DELETE /mcp, the session admin, a closed /sse
   * stream): the host deletes its keys, tells its streams, and confirms. A dead host's session is
   * taken over first by `deliver`, so its keys still go.
   */
  endSession(ref: SessionRef): Promise<EndSessionResult> {
    // An unconditional delete is never answered `busy`.
    return this.sendDelete(ref, false) as Promise<EndSessionResult>;
  }

  /** Ends a session only if its host finds it idle (the per-user cap, src/routing/sessionCap.ts). */
  endSessionIfIdle(ref: SessionRef): Promise<EvictionResult> {
    return this.sendDelete(ref, true);
  }

  private sendDelete(ref: SessionRef, idle: boolean): Promise<EvictionResult> {
    return new Promise<EvictionResult>((resolve, reject) => {
      const relayId = this.relay.open({
        onReply: (header) =>
          resolve(
            header.type === 'deleted'
              ? 'deleted'
              : header.type === 'error'
                ? (IDLE_DELETE_REFUSALS[header.status] ?? 'unavailable')
                : 'unavailable',
          ),
        onTimeout: () => resolve('timeout'),
      });
      this.deliver(
        ref,
        encode({ type: 'delete', relayInstance: this.instanceId, relayId, ifIdle: idle || undefined }),
      ).then(
        (result) => {
          if (result === 'delivered') return;
          this.relay.release(relayId);
          resolve(result);
        },
        (err: unknown) => {
          this.relay.release(relayId);
          reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
  }

  /** Publishes to a session's inbound channel, taking the session over if its host died. */
  async deliver(ref: SessionRef, payload: string): Promise<DeliveryResult> {
    const channel = this.keys.sessionInbound(ref.u, ref.sessionId);
    for (let attempt = 0; attempt < 4; attempt++) {
      if ((await this.bus.publish(channel, payload)) > 0) return 'delivered';
      const outcome = await this.takeOver(ref);
      if (outcome === 'absent') return 'gone';
      if (outcome === 'busy') await new Promise((r) => setTimeout(r, 25 * (attempt + 1)));
    }
    return 'unavailable';
  }

  sessionExists(ref: SessionRef): Promise<boolean> {
    return this.store.exists(ref);
  }

  /** Whether an instance id still beats (used to decide whether a lock holder is gone). */
  async isAlive(instanceId: string): Promise<boolean> {
    return instanceId === this.instanceId || (await this.redis.exists(this.keys.instance(instanceId))) === 1;
  }

  /** How long a relay waits for a sign of life from a session's host before giving up. */
  get relayTimeoutMs(): number {
    return this.opts.relayTimeoutMs;
  }

  get hostedCount(): number {
    return this.hosts.size;
  }

  /** Whether a session hosted here has its server in memory; undefined when not hosted here. */
  isLive(ref: SessionRef): boolean | undefined {
    return this.hosts.get(hostKey(ref))?.isLive;
  }

  /** Hosted sessions whose server is in memory (the rest are passivated), pinned ones included. */
  get liveCount(): number {
    return this.live.size + this.pinned.size;
  }

  /**
   * Passivated sessions have no server listening to change events; this forwards the events to
   * them as their server would (`notify` is the server's own mapping, src/mcp/resources/subscriptions.ts).
   * Returns the function that stops forwarding.
   */
  forwardChangesToPassivated(events: ServerEventBus, notify: ChangeNotifier): () => void {
    return events.subscribe((event) => {
      for (const h of this.hosts.values()) {
        if (h.isLive) continue;
        notify(event, () => h.subscriptions())
          .then((message) => (message === undefined ? undefined : h.notifyPassivated(JSON.stringify(message))))
          .catch((err: Error) =>
            this.log.debug({ err: err.message, session: h.ref.sessionId }, 'change notification not delivered'),
          );
      }
    });
  }

  /** Marks a host most recently used, then passivates the least recently used idle ones beyond the cap. */
  private used(host: SessionHost): void {
    if (host.pinned) return;
    const k = hostKey(host.ref);
    this.live.delete(k);
    if (host.isLive) this.live.set(k, host);
    this.enforceLiveCap();
  }

  private enforceLiveCap(): void {
    const max = this.opts.maxLiveSessions;
    if (max === undefined || this.live.size <= max) return;
    // Entries not yet visited; the last one is the session being served now: never its own victim.
    let unvisited = this.live.size;
    for (const [k, h] of this.live) {
      if (this.live.size <= max || unvisited-- === 1) break;
      const closing = h.passivate();
      if (closing === undefined) continue;
      this.live.delete(k);
      this.opts.onSessionPassivated?.();
    }
    if (this.live.size > max)
      this.log.debug({ live: this.live.size, max }, 'live sessions above the cap: the others are busy');
  }

  /**
   * Stops hosting without ending sessions: their state stays in Redis and the next request for
   * each is taken over by a live instance.
   */
  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers.length = 0;
    await this.redis.del(this.keys.instance(this.instanceId)).catch(() => 0);
    await Promise.all([...this.hosts.values()].map((h) => h.close(false)));
    await this.relay.stop();
  }

  /** Stops the timers only, leaving everything as a crashed process would (tests of instance loss). */
  abandon(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers.length = 0;
  }

  /** Ends every hosted session for good (tests and admin). */
  async closeSession(ref: SessionRef): Promise<void> {
    await this.hosts.get(hostKey(ref))?.close(true);
  }

  private takeOver(ref: SessionRef): Promise<'taken' | 'absent' | 'busy'> {
    const k = hostKey(ref);
    let p = this.takeovers.get(k);
    if (!p) {
      p = this.doTakeOver(ref).finally(() => this.takeovers.delete(k));
      this.takeovers.set(k, p);
    }
    return p;
  }

  private async doTakeOver(ref: SessionRef): Promise<'taken' | 'absent' | 'busy'> {
    if (this.hosts.has(hostKey(ref))) return 'taken';
    const meta = await this.store.load(ref);
    if (!meta) return 'absent';
    const stream = meta.sse ?? meta.ws;
    if (
      stream !== undefined &&
      (await this.bus.subscriberCount(this.keys.sessionOutbound(ref.u, ref.sessionId))) === 0
    ) {
      // A legacy (or WebSocket) session lives only as long as its /sse stream (socket). Nobody
      // listens on its outbound channel, so the stream is gone (its instance died: Redis drops a
      // dead connection's subscriptions at once) and nothing could ever reach the client again:
      // 404, keys gone.
      await this.store.delete(ref);
      this.log.info({ session: ref.sessionId, stream }, 'session ended: its /sse stream or WebSocket is gone');
      return 'absent';
    }
    // Nobody receives the session's channel, so nobody can be serving it: a host whose subscriber
    // connection drops gives up its sessions at once (see constructor), so this is safe to take.
    if (!(await this.store.casHost(ref, meta.host, this.instanceId))) return 'busy';
    const level = isSpecType.LoggingLevel(meta.level) ? meta.level : undefined;
    const host = await this.host(ref, meta.owner, level, meta.sse !== undefined, meta.ws !== undefined);
    // A legacy session taken over before its initialize arrived has nothing to replay.
    if (meta.init !== undefined) host.replay(meta.init);
    this.log.info({ session: ref.sessionId, from: meta.host }, 'took over session from a departed instance');
    return 'taken';
  }

  private async host(
    ref: SessionRef,
    owner: string,
    level: LoggingLevel | undefined,
    legacySse: boolean,
    websocket: boolean,
  ): Promise<SessionHost> {
    const k = hostKey(ref);
    const host = new SessionHost(this.hostCtx, ref, owner, level, legacySse, websocket, (h) => {
      if (this.hosts.get(k) !== h) return;
      this.hosts.delete(k);
      if (this.live.get(k) === h) this.live.delete(k);
      this.pinned.delete(h);
    });
    this.hosts.set(k, host);
    if (host.pinned) this.pinned.add(host);
    try {
      await host.open();
    } catch (err) {
      if (this.hosts.get(k) === host) {
        this.hosts.delete(k);
        this.pinned.delete(host);
      }
      throw err;
    }
    this.used(host);
    return host;
  }

  private fastSweep(): void {
    const now = Date.now();
    this.relay.sweep(now);
    const quiet = Math.floor(this.opts.relayTimeoutMs / 3);
    // A passivated host has nothing in flight to keep alive.
    const beat = (h: SessionHost) =>
      h.heartbeat(now, quiet).catch((err: Error) => this.log.debug({ err: err.message }, 'heartbeat failed'));
    for (const h of this.live.values()) void beat(h);
    for (const h of this.pinned) void beat(h);
  }

  private async slowSweep(): Promise<void> {
    const now = Date.now();
    await this.beatLiveness();
    const active: Array<SessionRef & { lastActivity: number }> = [];
    for (const h of [...this.hosts.values()]) {
      if (now - h.lastActivity > this.opts.idleTtlMs) {
        this.log.info({ session: h.ref.sessionId }, 'idle session expired');
        await h.close(true);
      } else if (h.lastActivity > this.lastRefresh) {
        active.push({ ...h.ref, lastActivity: h.lastActivity });
      }
    }
    this.lastRefresh = now;
    // Sessions that were busy when the cap was last enforced may be idle by now.
    this.enforceLiveCap();
    await this.store.refresh(active);
  }

  private async beatLiveness(): Promise<void> {
    await this.redis.set(this.keys.instance(this.instanceId), String(Date.now()), 'PX', LIVENESS_TTL_MS);
  }

  private every(ms: number, fn: () => unknown): void {
    const t = setInterval(() => {
      Promise.resolve()
        .then(fn)
        .catch((err: Error) => this.log.error({ err: err.message }, 'routing timer failed'));
    }, ms);
    t.unref();
    this.timers.push(t);
  }
}

function hostKey(ref: SessionRef): string {
  return `${ref.u}:${ref.sessionId}`;
}
