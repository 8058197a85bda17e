/**
 * Builds one HTTP server instance from a config: Redis connections → auth mode → routing mesh →
 * Express app. `index.ts` runs it as a process; tests start several in one process.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp } from './app.js';
import { setupAuth } from './auth/index.js';
import type { AuthModeSetup } from './auth/types.js';
import type { Config } from './config.js';
import { SseStreams } from './http/sse.js';
import { startResourceChangeSimulator } from './mcp/resourceUpdates.js';
import { createMcpServer } from './mcp/server.js';
import type { Logger } from './observability/logger.js';
import { Metrics } from './observability/metrics.js';
import { connectRedis, type RedisConnections } from './redis/connections.js';
import { createKeyspace } from './redis/keys.js';
import { RoutingInstance } from './routing/instance.js';
import { RedisResourceUpdateFeed } from './routing/resourceUpdateFeed.js';

export interface RunningServer {
  url: string;
  config: Config;
  routing: RoutingInstance;
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
  let feed: RedisResourceUpdateFeed | undefined;

  const routing = new RoutingInstance(redis.command, redis.pubsub, keys, log, {
    instanceId,
    relayTimeoutMs: config.RELAY_TIMEOUT_MS,
    idleTtlMs: config.SESSION_IDLE_TTL_SECONDS * 1000,
    maxSessionsPerUser: config.MAX_SESSIONS_PER_USER,
    maxInflightPerSession: config.MAX_STREAMS_PER_SESSION,
    maxPendingClientRequests: config.MAX_PENDING_CLIENT_REQUESTS_PER_SESSION,
    serverFactory: (ctx) =>
      createMcpServer({ ...ctx, resourceUpdates: feed, options: { logMessageIntervalMs: config.LOG_MESSAGE_INTERVAL_MS } }),
    onMessage: (method) => metrics.mcpMessages.inc({ method }),
    onRoutingLatency: (ms) => metrics.routingLatency.observe(ms / 1000),
  });
  feed = new RedisResourceUpdateFeed(routing.bus, keys.resourceUpdates());
  await routing.start();
  await feed.start();
  // Every instance simulates changes; each change reaches every instance's subscribed sessions.
  const stopSimulator = startResourceChangeSimulator((uri) => {
    feed?.publish(uri).catch((err: Error) => log.warn({ err: err.message }, 'resource update publish failed'));
  }, config.RESOURCE_UPDATE_INTERVAL_MS);

  const sse = new SseStreams(config.SSE_KEEPALIVE_MS);
  metrics.trackActive({ sessions: () => routing.hostedCount, streams: () => sse.counts() });
  let draining = false;
  const app = createApp({
    config,
    log,
    routing,
    auth,
    sse,
    metrics,
    keys,
    rateLimitRedis: redis.embedded ? undefined : redis.command,
    isDraining: () => draining,
    redisPing: () => redis.ping(),
  });

  const http = createServer(app.serverOptions, app);
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
    await feed?.stop();
    await routing.stop();
    sse.close();
    await auth.close?.();
    if (!opts.redis) await redis.close();
  };

  return {
    url,
    config,
    routing,
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
      const grace = new Promise<void>((r) => setTimeout(r, config.SHUTDOWN_GRACE_MS).unref());
      await Promise.race([closed, grace]);
      clearInterval(reaper);
      http.closeAllConnections();
      await release();
    },
    async kill() {
      stopSimulator();
      http.closeAllConnections();
      http.close();
      sse.close();
      await routing.abandon();
      if (!opts.redis) redis.disconnect();
    },
  };
}
