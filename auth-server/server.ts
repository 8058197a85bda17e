/**
 * The standalone authorization server: the same factory integrated mode mounts
 * (src/auth/server), served on its own port with its own Redis namespace. One implementation, two
 * deployments.
 */
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { authorizationServerFromConfig } from '../src/auth/server/fromConfig.js';
import { finalErrorHandler, notFoundHandler } from '../src/http/finalErrorHandler.js';
import { healthRouter } from '../src/http/health.js';
import { securityHeaders } from '../src/http/staticHeaders.js';
import type { Logger } from '../src/observability/logger.js';
import { connectRedis } from '../src/redis/connections.js';
import { createKeyspace } from '../src/redis/keys.js';
import type { AuthServerConfig } from './config.js';

export interface RunningAuthServer {
  /** Where it listens (may differ from the issuer behind a proxy). */
  url: string;
  server: Server;
  /** Stop accepting, finish in-flight requests (bounded by SHUTDOWN_GRACE_MS), release Redis. */
  close(): Promise<void>;
}

export async function startAuthServer(cfg: AuthServerConfig, log: Logger): Promise<RunningAuthServer> {
  const { shared } = cfg;
  const redis = await connectRedis(shared.redis, log, 'mcp-auth-server');
  let draining = false;
  const as = authorizationServerFromConfig(shared, {
    issuer: cfg.issuer,
    resources: cfg.resources,
    redis: redis.command,
    keys: createKeyspace(cfg.redisPrefix),
    log,
    serviceName: 'MCP authorization server',
    devLoginExposed: cfg.devLoginExposed,
  });

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', shared.TRUST_PROXY_HOPS);
  app.use(securityHeaders(cfg.issuer.startsWith('https:')));
  app.use(
    healthRouter({ redisPing: () => redis.ping(), isDraining: () => draining, timeoutMs: shared.READINESS_TIMEOUT_MS }),
  );
  app.use(as.router);
  // The router answers its own errors as OAuth JSON; these catch unknown paths and the rest.
  app.use(notFoundHandler());
  app.use(finalErrorHandler(log, () => 'problem'));

  const server = app.listen(cfg.port, cfg.host);
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const url = `http://${cfg.host.includes(':') ? `[${cfg.host}]` : cfg.host}:${port}`;
  log.info(
    { url, issuer: cfg.issuer, resources: cfg.resources, redisPrefix: cfg.redisPrefix },
    'authorization server listening',
  );

  return {
    url,
    server,
    async close() {
      draining = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const grace = setTimeout(() => server.closeAllConnections(), shared.SHUTDOWN_GRACE_MS);
      await closed;
      clearTimeout(grace);
      await as.close();
      await redis.close();
    },
  };
}
