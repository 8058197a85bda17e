/**
 * Express middleware feeding `http_requests_total` and `http_request_duration_seconds`.
 *
 * The `route` label is the matched route PATTERN (`/sessions/:id`), never the raw path: raw paths
 * carry ids and let any client mint new time series. Resolution order:
 *   1. `res.locals.metricsRoute`, for handlers that want a fixed label;
 *   2. `req.baseUrl + req.route.path` when an Express route matched;
 *   3. `req.baseUrl` when a middleware mounted with `app.use(path, …)` answered;
 *   4. `unmatched` (404s and anything answered before routing).
 * Routers must therefore be mounted on static paths (a parametrised mount path would put values
 * into `req.baseUrl`); use option 1 if one ever is not.
 *
 * Register it before every route so it sees every request, including rejected ones.
 */
import type { Request, RequestHandler, Response } from 'express';
import type { Metrics } from './metrics.js';
import { onResponseDone } from './responseDone.js';

const METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS']);

/** nginx's convention for "client closed the connection before any response was sent". */
const CLIENT_CLOSED = '499';

export function httpMetrics(metrics: Metrics): RequestHandler {
  return (req, res, next) => {
    const start = process.hrtime.bigint();
    onResponseDone(res, () => {
      const labels = {
        method: METHODS.has(req.method) ? req.method : 'OTHER',
        route: routeLabel(req, res),
        status: res.headersSent ? String(res.statusCode) : CLIENT_CLOSED,
      };
      metrics.httpRequests.inc(labels);
      // A standalone SSE stream lives as long as its session: its duration is not a latency.
      if (!(req.method === 'GET' && isEventStream(res))) {
        metrics.httpDuration.observe(labels, Number(process.hrtime.bigint() - start) / 1e9);
      }
    });
    next();
  };
}

export function routeLabel(req: Request, res: Response): string {
  const fixed: unknown = res.locals['metricsRoute'];
  if (typeof fixed === 'string' && fixed.length > 0) return fixed;
  // Express types `req.route` as any.
  const route = (req as { route?: unknown }).route;
  if (typeof route === 'object' && route !== null && 'path' in route && typeof route.path === 'string')
    return joinPath(req.baseUrl, route.path);
  if (req.baseUrl) return req.baseUrl;
  return 'unmatched';
}

function joinPath(base: string, path: string): string {
  const joined = `${base}${path === '/' && base ? '' : path}`;
  return joined.length > 0 ? joined : '/';
}

function isEventStream(res: Response): boolean {
  const type = res.getHeader('content-type');
  return typeof type === 'string' && type.startsWith('text/event-stream');
}

/** RFC 6750 §3.1 error codes, plus `missing_token` for a challenge without one (no credentials sent). */
const AUTH_REASONS = new Set(['invalid_request', 'invalid_token', 'insufficient_scope']);

/**
 * Counts `mcp_auth_failures_total{reason}` from the Bearer challenges that protected routes answer
 * with (401/403 + `WWW-Authenticate: Bearer …`), so the auth code needs no metrics dependency.
 * Mount it right before the authentication middleware of each protected router.
 */
export function authFailureMetrics(metrics: Metrics): RequestHandler {
  return (_req, res, next) => {
    onResponseDone(res, (end) => {
      if (end !== 'finish' || (res.statusCode !== 401 && res.statusCode !== 403)) return;
      const challenge = res.getHeader('www-authenticate');
      const text = Array.isArray(challenge) ? challenge.join(', ') : String(challenge ?? '');
      if (!/^Bearer\b/i.test(text)) return;
      const code = /\berror="([^"]*)"/.exec(text)?.[1];
      const reason = code === undefined ? 'missing_token' : AUTH_REASONS.has(code) ? code : 'other';
      metrics.authFailures.inc({ reason });
    });
    next();
  };
}
