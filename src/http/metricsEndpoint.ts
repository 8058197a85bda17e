/**
 * GET /metrics for Prometheus. Off (404, as if the route did not exist) when METRICS_ENABLED is
 * false. With METRICS_TOKEN set, the scraper must send `Authorization: Bearer <token>`
 * (Prometheus `authorization: { credentials: … }`); metrics reveal traffic patterns and user
 * activity, so an exposed port should not hand them out.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { Router } from 'express';
import type { Metrics } from '../observability/metrics.js';

export interface MetricsEndpointOptions {
  enabled: boolean;
  /** Bearer token the scraper must present; undefined = no check (restrict at the network). */
  token?: string;
}

export function metricsRouter(metrics: Metrics, opts: MetricsEndpointOptions): Router {
  const router = Router();
  if (!opts.enabled) return router;
  const expected = opts.token === undefined ? undefined : digest(opts.token);

  router.get('/metrics', async (req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    if (expected && !presentedTokenMatches(req.headers.authorization, expected)) {
      // RFC 6750 §3: a challenge naming the scheme; no detail about what was wrong.
      res.setHeader('WWW-Authenticate', 'Bearer realm="metrics"');
      res.status(401).type('text/plain').send('unauthorized\n');
      return;
    }
    try {
      const { contentType, body } = await metrics.exposition();
      res.setHeader('Content-Type', contentType);
      res.status(200).send(body);
    } catch (err) {
      next(err);
    }
  });
  return router;
}

function presentedTokenMatches(header: string | undefined, expected: Buffer): boolean {
  const match = /^Bearer[ ]+([^ ]+)[ ]*$/i.exec(header ?? '');
  if (!match?.[1]) return false;
  // Comparing fixed-length digests keeps the comparison constant-time regardless of input length.
  return timingSafeEqual(digest(match[1]), expected);
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}
