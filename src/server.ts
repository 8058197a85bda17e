/**
 * Builds one HTTP server instance from a config: Redis connections → auth mode → routing mesh →
 * the services both protocol lanes share (change bus, requestState keys, tasks) → the 2026-07-28
 * lane → Express app. `index.ts` runs it as a process; tests start several in one process.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { ServerEventBus } from '@modelcontextprotocol/server';
import type { AddressInfo } from 'node:net';
import { createApp } from './app.js';
import { ANONYMOUS_USER, setupAuth } from './auth/index.js';
import type { AuthModeSetup } from './auth/types.js';
import type { Config } from './config.js';
import { ModernLane } from './http/modernLane.js';
import { SseStreams } from './http/sse.js';
import { userIdOf } from './auth/types.js';
import { createRequestStateSeal } from './mcp/requestState.js';
import { WebSocketEndpoint } from './http/websocket.js';
import { startResourceChangeSimulator } from './mcp/resourceUpdates.js';
import { changeNotification } from './mcp/resources/subscriptions.js';
import { createMcpServer } from './mcp/server.js';
import type { TaskServices } from './mcp/tasks/handlers.js';
import { TaskRunner } from './mcp/tasks/runner.js';
import type { Logger } from './observability/logger.js';
import { Metrics } from './observability/metrics.js';
import { connectRedis, type RedisConnections } from './redis/connections.js';
import { createKeyspace, sessionOwnerKey } from './redis/keys.js';
import { RoutingInstance } from './routing/instance.js';
import { SessionStreams } from './routing/streams.js';
import { RedisStateKeys } from './routing/requestStateKeys.js';
import { RedisServerEventBus } from './routing/serverEventBus.js';
import { RedisTaskStore } from './routing/taskStore.js';

export interface RunningServer {
  url: string;
  config: Config;
  routing: RoutingInstance;
  /** The change bus every instance shares (resource updates, list changes). */
  events: ServerEventBus;
  redis: RedisConnections;
  metrics: Metrics;
  http: Server;
  /** Graceful stop: refuse new work, let in-flight requests finish (bounded), release Redis. */
  stop(): Promise<void>;
  /** Abrupt stop, as if the process died (tests of instance loss). */
  kill(): Promise<void>;
}

export interface StartOptions {
  /** Replaces the configured auth mode (tests use a static-token verifier). */
  auth?: AuthModeSetup;
  /** Reuse existing connections (embedded Redis in a test). */
  redis?: RedisConnections;
  instanceId?: string;
}

export async function startServer(config: Config, log: Logger, opts: StartOptions = {}): Promise<RunningServer> {
  const instanceId = opts.instanceId ?? randomUUID();
  // Connections are named after the instance, so CLIENT LIST tells whose they are.
  const redis = opts.redis ?? (await connectRedis(config.redis, log, `${config.REDIS_PREFIX}-${instanceId}`));
  const keys = createKeyspace(config.REDIS_PREFIX);
  const metrics = new Metrics({ defaultMetrics: !opts.auth });
  const auth = opts.auth ?? (await setupAuth({ config, redis: redis.command, keys, log }));
  // Shared by every server this instance builds, for either protocol era.
  const requestState = createRequestStateSeal(
    new RedisStateKeys(
      redis.command,
      keys.requestStateKeys(),
      config.MRTR_KEY_ROTATION_SECONDS * 1000,
      config.MRTR_STATE_TTL_SECONDS * 1000,
    ),
    config.MRTR_STATE_TTL_SECONDS,
  );
  // The change bus rides the routing mesh's pub/sub connection, created with it below.
  const changeBus = (): RedisServerEventBus => events;

  const routing = new RoutingInstance(redis.command, redis.pubsub, keys, log, {
    instanceId,
    relayTimeoutMs: config.RELAY_TIMEOUT_MS,
    idleTtlMs: config.SESSION_IDLE_TTL_SECONDS * 1000,
    maxSessionsPerUser: config.MAX_SESSIONS_PER_USER,
    maxInflightPerSession: config.MAX_STREAMS_PER_SESSION,
    maxPendingClientRequests: config.MAX_PENDING_CLIENT_REQUESTS_PER_SESSION,
    maxLiveSessions: config.MAX_LIVE_SESSIONS_PER_INSTANCE,
    serverFactory: ({ sessionId, userId, state, log: sessionLog }) =>
      createMcpServer({
        userId,
        log: sessionLog,
        events: changeBus(),
        requestState,
        session: { id: sessionId, state, logMessageIntervalMs: config.LOG_MESSAGE_INTERVAL_MS },
      }),
    onMessage: (method) => metrics.mcpMessages.inc({ method }),
    onRoutingLatency: (ms) => metrics.routingLatency.observe(ms / 1000),
    onSessionEvicted: () => metrics.sessionEvictions.inc(),
    onSessionRefused: () => metrics.sessionLimitRefusals.inc(),
    onSessionPassivated: () => metrics.sessionsPassivated.inc(),
    onSessionRehydrated: () => metrics.sessionsRehydrated.inc(),
  });
  const events = new RedisServerEventBus(routing.bus, keys.serverEvents(), log);
  // A passivated session's server is gone; its change notifications are sent for it.
  const stopForwarding = routing.forwardChangesToPassivated(events, changeNotification);
  const taskStore = new RedisTaskStore(redis.command, routing.bus, keys, routing.instanceId, log);
  const runner = new TaskRunner(
    taskStore,
    {
      ttlMs: config.TASK_TTL_SECONDS * 1000,
      pollIntervalMs: config.TASK_POLL_INTERVAL_MS,
      leaseMs: config.TASK_LEASE_MS,
      maxRunning: config.MAX_TASKS_PER_INSTANCE,
    },
    log,
  );
  const tasks: TaskServices = {
    store: taskStore,
    runner,
    // Tasks belong to the user AND the OAuth client of the token, like sessions.
    ownerOf: (sdk) =>
      sessionOwnerKey(userIdOf(sdk.http?.authInfo) ?? ANONYMOUS_USER, sdk.http?.authInfo?.clientId ?? ''),
  };
  const mesh = new SessionStreams(routing, log);
  await routing.start();
  await events.start();
  await taskStore.start();
  // Every instance simulates changes; each change reaches every instance's sessions and listen streams.
  const stopSimulator = startResourceChangeSimulator(
    (uri) => events.publish({ kind: 'resource_updated', uri }),
    config.RESOURCE_UPDATE_INTERVAL_MS,
  );
  const modern = new ModernLane({
    // Servers of this lane serve whoever calls: each request brings its caller (authInfo).
    build: () => createMcpServer({ log, events: changeBus(), requestState, tasks }),
    direct: config.MODERN_DIRECT_PATH,
    bus: events,
    log,
    endpointUrl: `${config.BASE_URI}/mcp`,
    maxSubscriptions: config.MAX_LISTEN_STREAMS,
    keepAliveMs: config.SSE_KEEPALIVE_MS,
    onMessage: (method) => metrics.mcpMessages.inc({ method }),
    onServed: (path) => metrics.modernRequests.inc({ path }),
  });

  const sse = new SseStreams(config.SSE_KEEPALIVE_MS);
  let draining = false;
  const websockets = new WebSocketEndpoint({
    mesh,
    log,
    metrics,
    maxSockets: config.MAX_WEBSOCKETS_PER_INSTANCE,
    maxFrameBytes: config.MAX_BODY_BYTES,
    sendBufferBytes: config.WEBSOCKET_SEND_BUFFER_BYTES,
    pingIntervalMs: config.WEBSOCKET_PING_INTERVAL_MS,
    isDraining: () => draining,
  });
  metrics.trackActive({
    sessions: () => routing.hostedCount,
    liveSessions: () => routing.liveCount,
    streams: () => ({ ...sse.counts(), listen: modern.listenStreams }),
    tasks: () => runner.runningCount,
    websockets: () => websockets.size,
  });
  const app = createApp({
    config,
    log,
    mesh,
    modern,
    auth,
    sse,
    websockets,
    metrics,
    keys,
    rateLimitRedis: redis.embedded ? undefined : redis.command,
    isDraining: () => draining,
    redisPing: () => redis.ping(),
  });

  const http = createServer(app.serverOptions, app);
  http.on('upgrade', app.upgrade);
  // Keep-alive sockets from a load balancer must outlive its own idle timeout.
  http.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(config.PORT, config.HOST, () => resolve());
  });
  const addr = http.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `http://${host}:${addr.port}`;

  const release = async () => {
    stopSimulator();
    stopForwarding();
    // Tasks still running here cannot move: they fail, saying why, before the instance goes.
    await runner.stop();
    await modern.close();
    await taskStore.stop();
    await events.stop();
    await routing.stop();
    sse.close();
    await auth.close?.();
    if (!opts.redis) await redis.close();
  };

  return {
    url,
    config,
    routing,
    events,
    redis,
    metrics,
    http,
    async stop() {
      draining = true;
      const closed = new Promise<void>((r) => http.close(() => r()));
      // Connections turn idle as their last request finishes; close them as they do.
      const reaper = setInterval(() => http.closeIdleConnections(), 50);
      http.closeIdleConnections();
      // Standalone streams never finish by themselves: end them so clients reconnect elsewhere.
      // POST streams carry in-flight requests and end with their answer, within the grace period.
      sse.endAll(['get', 'legacy_sse']);
      modern.endListenStreams();
      // WebSockets get 1001 "going away" and their sessions end (the client starts a new one elsewhere).
      const socketsClosed = websockets.shutdown(config.SHUTDOWN_GRACE_MS);
      const grace = new Promise<void>((r) => setTimeout(r, config.SHUTDOWN_GRACE_MS).unref());
      await Promise.race([closed, grace]);
      await socketsClosed;
      clearInterval(reaper);
      http.closeAllConnections();
      await release();
    },
    async kill() {
      stopSimulator();
      runner.abandon();
      websockets.abandon();
      http.closeAllConnections();
      http.close();
      sse.close();
      routing.abandon();
      if (!opts.redis) redis.disconnect();
    },
  };
}
