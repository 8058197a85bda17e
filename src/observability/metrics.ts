/**
 * Prometheus metrics of one app instance. Each `Metrics` owns its own prom-client `Registry` (never
 * the global default one), so two apps in one test process, or a restarted app, do not collide on
 * metric names.
 *
 * Every label takes values from a small fixed set: a label fed from client input (a raw URL path, an
 * unknown JSON-RPC method name) would let any client create unbounded time series in the scraper.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Methods of MCP 2025-11-25 (plus 2026-07-28 `server/discover`); anything else is counted as `other`. */
export const MCP_METHODS = [
  'initialize',
  'ping',
  'tools/list',
  'tools/call',
  'resources/list',
  'resources/templates/list',
  'resources/read',
  'resources/subscribe',
  'resources/unsubscribe',
  'prompts/list',
  'prompts/get',
  'completion/complete',
  'logging/setLevel',
  'sampling/createMessage',
  'elicitation/create',
  'roots/list',
  'tasks/get',
  'tasks/result',
  'tasks/list',
  'tasks/cancel',
  'server/discover',
  'notifications/initialized',
  'notifications/cancelled',
  'notifications/progress',
  'notifications/message',
  'notifications/roots/list_changed',
  'notifications/resources/updated',
  'notifications/resources/list_changed',
  'notifications/tools/list_changed',
  'notifications/prompts/list_changed',
  'notifications/elicitation/complete',
  'notifications/tasks/status',
] as const;

const KNOWN_METHODS: ReadonlySet<string> = new Set(MCP_METHODS);

const WEBSOCKET_CLOSE_REASONS = [
  'client_closed',
  'going_away',
  'token_expired',
  'token_revoked',
  'session_ended',
  'slow_consumer',
  'ping_timeout',
  'protocol_error',
  'internal_error',
] as const satisfies readonly WebSocketCloseReason[];

/** Bounded label value for a JSON-RPC method taken from the wire. */
export function mcpMethodLabel(method: string | undefined): string {
  if (method === undefined) return 'response';
  return KNOWN_METHODS.has(method) ? method : 'other';
}

/** Where a JSON-RPC message went: client→server (`in`) or server→client (`out`). */
export type McpDirection = 'in' | 'out';

/** Kinds of long-lived SSE streams an instance holds. */
export type StreamKind = 'get' | 'post' | 'legacy_sse';

export type RateLimitScope = 'address' | 'user';

/** Why a WebSocket closed (src/http/websocketCloseCodes.ts holds the codes behind each). */
export type WebSocketCloseReason =
  | 'client_closed'
  | 'going_away'
  | 'token_expired'
  | 'token_revoked'
  | 'session_ended'
  | 'slow_consumer'
  | 'ping_timeout'
  | 'protocol_error'
  | 'internal_error';

/** Counts MCP messages with the method label normalised (see `mcpMethodLabel`). */
export interface McpMessageCounter {
  /** `method` undefined = a response (result or error). `direction` defaults to `in`. */
  inc(labels: { method: string | undefined; direction?: McpDirection }, value?: number): void;
}

export interface MetricsOptions {
  /** Include prom-client's process metrics (CPU, memory, event loop lag, GC). Default true. */
  defaultMetrics?: boolean;
  /** Labels added to every series of this registry (e.g. a deployment name). */
  defaultLabels?: Record<string, string>;
}

export interface ActiveSources {
  /** Sessions hosted by this instance, read at scrape time. */
  sessions?: () => number;
  /** Hosted sessions whose server is in memory (not passivated), read at scrape time. */
  liveSessions?: () => number;
  /** Open streams on this instance by kind, read at scrape time. */
  streams?: () => Partial<Record<StreamKind | 'listen', number>>;
  /** Tasks (tasks extension) running on this instance, read at scrape time. */
  tasks?: () => number;
  /** Open WebSockets on this instance, read at scrape time. */
  websockets?: () => number;
}

export class Metrics {
  readonly registry = new Registry();

  /** HTTP requests by method, route pattern and status; recorded by `httpMetrics()`. */
  readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  /** Request latency (to the end of the response) by method, route pattern and status. */
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  readonly mcpMessages: McpMessageCounter;
  /** MCP sessions hosted by this instance (set it, or register a source with `trackActive`). */
  readonly activeSessions: Gauge;
  /** Hosted sessions whose McpServer is in memory; the rest are passivated (MAX_LIVE_SESSIONS_PER_INSTANCE). */
  readonly liveSessions: Gauge;
  /** Idle hosted sessions dropped from memory (LRU beyond MAX_LIVE_SESSIONS_PER_INSTANCE). */
  readonly sessionsPassivated: Counter;
  /** Passivated sessions rebuilt from Redis for their next message. */
  readonly sessionsRehydrated: Counter;
  /** Open SSE streams on this instance, by kind. */
  readonly activeStreams: Gauge<'kind'>;
  /** Tasks of the tasks extension running on this instance. */
  readonly runningTasks: Gauge;
  /** Seconds from publishing a client message on Redis to receiving the host's answer. */
  readonly routingLatency: Histogram;
  /** Rejected authentications by reason (e.g. missing_token, invalid_token, insufficient_scope). */
  readonly authFailures: Counter<'reason'>;
  /** Requests answered 429 by the /mcp rate limits. */
  readonly rateLimitRejections: Counter<'scope'>;
  /** Idle sessions ended by this instance to make room under MAX_SESSIONS_PER_USER. */
  readonly sessionEvictions: Counter;
  /** New sessions refused by this instance because every session of the user was busy. */
  readonly sessionLimitRefusals: Counter;
  /** Open WebSockets (/ws) on this instance. */
  readonly activeWebsockets: Gauge;
  /** WebSockets accepted (101) on this instance. */
  readonly websocketsOpened: Counter;
  /** WebSockets closed, by reason (slow_consumer: the bounded send buffer overflowed). */
  readonly websocketsClosed: Counter<'reason'>;
  /** WebSocket text frames (one JSON-RPC message each): `in` from the client, `out` to it. */
  readonly websocketMessages: Counter<'direction'>;
  /** Slow consumers cut off, counted when detected (the close itself may take a while to complete). */
  readonly websocketSlowConsumers: Counter;
  /**
   * 2026-07-28 requests by how they were answered: `direct` (a pooled server) or `entry` (the SDK's
   * createMcpHandler).
   */
  readonly modernRequests: Counter<'path'>;

  private sources: ActiveSources = {};

  constructor(opts: MetricsOptions = {}) {
    const registers = [this.registry];
    if (opts.defaultLabels) this.registry.setDefaultLabels(opts.defaultLabels);
    if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });

    this.httpRequests = new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests by method, route pattern and status code.',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.httpDuration = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request latency until the response ended (standalone SSE GET streams excluded).',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    const mcpMessages = new Counter({
      name: 'mcp_messages_total',
      help: 'JSON-RPC messages by MCP method (response = result or error) and direction (in = from the client).',
      labelNames: ['method', 'direction'],
      registers,
    });
    this.mcpMessages = {
      inc: ({ method, direction = 'in' }, value = 1) =>
        mcpMessages.inc({ method: mcpMethodLabel(method), direction }, value),
    };
    const sources = () => this.sources;
    this.activeSessions = new Gauge({
      name: 'mcp_active_sessions',
      help: 'MCP sessions hosted by this instance.',
      registers,
      collect() {
        const read = sources().sessions;
        if (read) this.set(read());
      },
    });
    this.liveSessions = new Gauge({
      name: 'mcp_live_sessions',
      help: 'Hosted MCP sessions whose server is in memory; the others are passivated (MAX_LIVE_SESSIONS_PER_INSTANCE).',
      registers,
      collect() {
        const read = sources().liveSessions;
        if (read) this.set(read());
      },
    });
    this.sessionsPassivated = new Counter({
      name: 'mcp_sessions_passivated_total',
      help: 'Idle hosted sessions dropped from memory to stay within MAX_LIVE_SESSIONS_PER_INSTANCE.',
      registers,
    });
    this.sessionsRehydrated = new Counter({
      name: 'mcp_sessions_rehydrated_total',
      help: 'Passivated sessions rebuilt from Redis for their next message.',
      registers,
    });
    this.activeStreams = new Gauge({
      name: 'mcp_active_streams',
      help: 'Open SSE streams on this instance by kind (get, post, legacy_sse; listen = 2026-07-28 subscriptions/listen).',
      labelNames: ['kind'],
      registers,
      collect() {
        const read = sources().streams;
        if (!read) return;
        const counts = read();
        for (const kind of ['get', 'post', 'legacy_sse', 'listen'] as const) this.set({ kind }, counts[kind] ?? 0);
      },
    });
    this.runningTasks = new Gauge({
      name: 'mcp_tasks_running',
      help: 'Tasks (io.modelcontextprotocol/tasks extension) running on this instance.',
      registers,
      collect() {
        const read = sources().tasks;
        if (read) this.set(read());
      },
    });
    this.routingLatency = new Histogram({
      name: 'mcp_routing_latency_seconds',
      help: 'Redis routing latency: publish of a client message to the first answer from the session host.',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.authFailures = new Counter({
      name: 'mcp_auth_failures_total',
      help: 'Rejected authentications on protected routes, by reason.',
      labelNames: ['reason'],
      registers,
    });
    this.rateLimitRejections = new Counter({
      name: 'mcp_rate_limit_rejections_total',
      help: 'Requests rejected with 429 by the /mcp rate limits, by scope (address = before auth, user = after).',
      labelNames: ['scope'],
      registers,
    });
    this.sessionEvictions = new Counter({
      name: 'mcp_session_evictions_total',
      help: 'Idle sessions ended to make room for a new one at the per-user session cap (MAX_SESSIONS_PER_USER).',
      registers,
    });
    this.sessionLimitRefusals = new Counter({
      name: 'mcp_session_limit_refusals_total',
      help: 'New sessions refused (429) at the per-user session cap because every session of the user was busy.',
      registers,
    });
    this.activeWebsockets = new Gauge({
      name: 'mcp_active_websockets',
      help: 'Open WebSockets (/ws) on this instance.',
      registers,
      collect() {
        const read = sources().websockets;
        if (read) this.set(read());
      },
    });
    this.websocketsOpened = new Counter({
      name: 'mcp_websockets_opened_total',
      help: 'WebSockets accepted (101 Switching Protocols) on /ws.',
      registers,
    });
    const closed = new Counter({
      name: 'mcp_websockets_closed_total',
      help: 'WebSockets closed, by reason (client_closed, going_away, token_expired, token_revoked, session_ended, slow_consumer, ping_timeout, protocol_error, internal_error).',
      labelNames: ['reason'],
      registers,
    });
    // Every reason exported from the start, so rate() over a first slow-consumer close works.
    for (const reason of WEBSOCKET_CLOSE_REASONS) closed.inc({ reason }, 0);
    this.websocketsClosed = closed;
    this.websocketMessages = new Counter({
      name: 'mcp_websocket_messages_total',
      help: 'WebSocket text frames, one JSON-RPC message each: in = from the client, out = to the client.',
      labelNames: ['direction'],
      registers,
    });
    this.websocketSlowConsumers = new Counter({
      name: 'mcp_websocket_slow_consumers_total',
      help: 'WebSockets cut off because more than WEBSOCKET_SEND_BUFFER_BYTES were unsent (close code 4008), counted when detected.',
      registers,
    });
    this.modernRequests = new Counter({
      name: 'mcp_modern_requests_total',
      help: '2026-07-28 requests by how they were answered: direct (a pooled server) or entry (the SDK createMcpHandler).',
      labelNames: ['path'],
      registers,
    });
  }

  /**
   * Read session and stream counts at scrape time instead of maintaining them with inc/dec; the
   * owner of the sessions passes its own counters here once.
   */
  trackActive(sources: ActiveSources): void {
    this.sources = { ...this.sources, ...sources };
  }

  /** Prometheus text exposition of this registry. */
  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
