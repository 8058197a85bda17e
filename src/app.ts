/**
 * The HTTP request handler. The order of middleware is the security model, so it is all here:
 *   1. access log with request id, HTTP metrics, security headers (helmet) on every response
 *   2. /mcp, /sse, /message, /sessions, each behind the same `protectedChain`: Host/Origin guard →
 *      CORS (answers preflights before auth) → per-address rate limit → bearer auth (failures
 *      counted) → per-user rate limit → the endpoint (Streamable HTTP, legacy HTTP+SSE, admin);
 *      the WebSocket upgrade of /ws runs steps 1 and 2 on the upgrade request, before the 101
 *   3. operator endpoints that need no auth (health, metrics)
 *   4. the auth mode's own routes (OAuth metadata, authorization server, login pages); they answer
 *      their own errors in the OAuth shape
 *   5. the last word: 404 for unknown paths, then the final error handler, so every route answers in
 *      its protocol's shape (JSON-RPC or problem JSON) and never leaks Express's HTML page or a
 *      stack trace (an error page is an information leak and a parser trap for clients)
 * /mcp, the hot path, runs steps 1 and 2 as one fixed list without Express's router
 * (src/http/handlerChain.ts); everything else goes through the Express app. Both use the very same
 * middleware instances, defined once below.
 */
import type { IncomingMessage, ServerOptions, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import express, { type RequestHandler } from 'express';
import type { AuthModeSetup } from './auth/types.js';
import type { Config } from './config.js';
import { mcpCors, originGuard } from './http/origin.js';
import { type SseStreams } from './http/sse.js';
import { expressMessageClasses, expressServerOptions, handlerChain } from './http/handlerChain.js';
import { shouldUpgrade, WEBSOCKET_PATH, type WebSocketEndpoint } from './http/websocket.js';
import { JsonRpcCode, sendJsonRpcError } from './http/jsonRpcError.js';
import { securityHeaders } from './http/staticHeaders.js';
import { streamableHttpEndpoint } from './http/streamableHttp.js';
import type { ModernLane } from './http/modernLane.js';
import { legacySseRouters } from './http/legacySse.js';
import { sessionAdminRouter } from './http/sessionAdmin.js';
import type { Logger } from './observability/logger.js';
import type { SessionStreams } from './routing/streams.js';
import { healthRouter } from './http/health.js';
import { metricsRouter } from './http/metricsEndpoint.js';
import { finalErrorHandler, notFoundHandler } from './http/finalErrorHandler.js';
import { authFailureMetrics, httpMetrics } from './observability/httpMetrics.js';
import type { Metrics } from './observability/metrics.js';
import { requestLogger } from './observability/requestLog.js';
import { mcpRateLimits, type McpRateLimits } from './http/rateLimit.js';
import { mcpRateLimitKeys, securityCounters } from './redis/rateLimitStore.js';
import type { Keyspace } from './redis/keys.js';
import type { Redis } from 'ioredis';

export interface AppDeps {
  config: Config;
  log: Logger;
  /** The routing mesh (2025-11-25 sessions, legacy /sse), as the transports see it. */
  mesh: SessionStreams;
  /** The stateless 2026-07-28 lane of /mcp. */
  modern: ModernLane;
  auth: AuthModeSetup;
  sse: SseStreams;
  /** The /ws endpoint (its sockets belong to the server's lifecycle). */
  websockets: WebSocketEndpoint;
  metrics: Metrics;
  isDraining: () => boolean;
  redisPing: () => Promise<unknown>;
  keys: Keyspace;
  /** Store for the shared rate-limit counters; undefined (embedded Redis) = per-process counters. */
  rateLimitRedis: Redis | undefined;
}

/**
 * The request listener, with the `http.createServer` options it is fastest with, and the listener
 * for the server's `upgrade` event (/ws).
 */
export type AppListener = ((req: IncomingMessage, res: ServerResponse) => void) & {
  serverOptions: ServerOptions;
  upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
};

export function createApp(deps: AppDeps): AppListener {
  const { config } = deps;
  const app = express();
  app.disable('x-powered-by');
  // Only as many proxy hops as configured are trusted for the client address (never any XFF).
  app.set('trust proxy', config.TRUST_PROXY_HOPS);

  const everyResponse: RequestHandler[] = [
    requestLogger({ log: deps.log }),
    httpMetrics(deps.metrics),
    securityHeaders(config.BASE_URI.startsWith('https:')),
  ];
  const limits = mcpRateLimits({
    counters: securityCounters(deps.rateLimitRedis),
    keys: mcpRateLimitKeys(deps.keys),
    config,
    metrics: deps.metrics,
    log: deps.log,
  });
  const guarded = protectedChain(deps, limits);

  const endpoint = streamableHttpEndpoint({
    mesh: deps.mesh,
    modern: deps.modern,
    sse: deps.sse,
    log: deps.log,
    maxBodyBytes: config.MAX_BODY_BYTES,
  });
  const mcp = handlerChain(app, '/mcp', [...everyResponse, ...guarded, endpoint.handle], endpoint.onError);
  // The WebSocket upgrade: the same middleware instances on the upgrade request, then the upgrade.
  const ws = handlerChain(
    app,
    WEBSOCKET_PATH,
    [...everyResponse, ...guarded, deps.websockets.accept],
    deps.websockets.onError,
  );

  app.use(everyResponse);
  const legacy = legacySseRouters({
    mesh: deps.mesh,
    sse: deps.sse,
    log: deps.log,
    maxBodyBytes: config.MAX_BODY_BYTES,
    baseUri: config.BASE_URI,
  });
  app.use('/sse', guarded, legacy.stream);
  app.use('/message', guarded, legacy.message);
  app.use('/sessions', guarded, sessionAdminRouter({ mesh: deps.mesh, log: deps.log }));
  // A plain GET without the upgrade handshake.
  app.use(WEBSOCKET_PATH, (_req, res) => {
    res.setHeader('Upgrade', 'websocket');
    sendJsonRpcError(
      res,
      426,
      JsonRpcCode.InvalidRequest,
      'Upgrade Required: open a WebSocket (subprotocol "mcp") on /ws',
    );
  });

  app.use(
    healthRouter({ redisPing: deps.redisPing, isDraining: deps.isDraining, timeoutMs: config.READINESS_TIMEOUT_MS }),
  );
  app.use(metricsRouter(deps.metrics, { enabled: config.METRICS_ENABLED, token: config.METRICS_TOKEN }));

  if (deps.auth.router) app.use(deps.auth.router);

  app.use(notFoundHandler());
  app.use(finalErrorHandler(deps.log, (req) => (isJsonRpcPath(req.path) ? 'json-rpc' : 'problem')));

  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    if (isMcpPath(req.url)) mcp(req, res);
    else app(req, res);
  };
  const upgrade = deps.websockets.upgradeListener({
    chain: ws,
    ordinary: listener,
    responseClass: expressMessageClasses(app).response,
    authenticate: deps.auth.authenticate,
    countUserMessage: limits.countUserMessage,
  });
  // `shouldUpgradeCallback` (Node ≥ 22.21; ignored by Node 20) keeps any other Upgrade on the ordinary path.
  const serverOptions = { ...expressServerOptions(app), shouldUpgradeCallback: shouldUpgrade } as ServerOptions;
  return Object.assign(listener, { serverOptions, upgrade });
}

/** The MCP transports, whose clients expect JSON-RPC error bodies. */
function isJsonRpcPath(path: string): boolean {
  return path === '/mcp' || path === '/sse' || path === '/message' || path === WEBSOCKET_PATH;
}

function isMcpPath(url: string | undefined): boolean {
  return url === '/mcp' || (url !== undefined && url.startsWith('/mcp?'));
}

/**
 * The guards in front of every bearer-protected endpoint, in the one order that makes them safe:
 * the Host/Origin check (DNS rebinding) and CORS preflights come before any auth work, the
 * per-address limit before token verification (bounds guessing), the per-user limit after it.
 * Built once and shared, so the rate-limit counters are the same whichever endpoint is hit.
 */
function protectedChain(deps: AppDeps, limits: McpRateLimits): RequestHandler[] {
  const { config } = deps;
  return [
    originGuard(config.ALLOWED_ORIGINS, config.ALLOWED_HOSTS),
    mcpCors(config.ALLOWED_ORIGINS),
    limits.perAddress,
    authFailureMetrics(deps.metrics),
    deps.auth.authenticate,
    limits.perUser,
  ];
}
