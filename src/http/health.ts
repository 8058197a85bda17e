/**
 * Probes for orchestrators and load balancers. Both are unauthenticated and answer with a fixed
 * vocabulary only: no error text, host names or versions, because whoever can reach the port can
 * read them.
 *
 * - GET /health (liveness): the process runs its event loop. It never checks dependencies, so a
 *   Redis outage does not make an orchestrator restart every instance at once.
 * - GET /ready (readiness): Redis answers PING within the timeout and the instance is not draining.
 *   During graceful shutdown it turns 503 first, so the load balancer stops sending new sessions
 *   while in-flight requests finish.
 */
import { Router, type Response } from 'express';

export interface HealthOptions {
  /** Resolves when Redis answers (e.g. `() => redis.ping()`); a rejection or timeout means not ready. */
  redisPing: () => Promise<unknown>;
  /** True from the moment graceful shutdown starts. */
  isDraining: () => boolean;
  /** Budget for `redisPing` (config READINESS_TIMEOUT_MS). */
  timeoutMs: number;
}

export type ReadinessFailure = 'draining' | 'redis_unavailable';

export interface ProbeBody {
  status: 'ok' | 'ready' | 'unavailable';
  reason?: ReadinessFailure;
}

export function healthRouter(opts: HealthOptions): Router {
  const router = Router();

  router.get('/health', (_req, res) => {
    send(res, 200, { status: 'ok' });
  });

  router.get('/ready', async (_req, res) => {
    const failure = await readinessFailure(opts);
    if (failure) {
      // Retry-After lets a client that hit /ready directly back off sensibly (RFC 9110 §10.2.3).
      res.setHeader('Retry-After', '1');
      send(res, 503, { status: 'unavailable', reason: failure });
      return;
    }
    send(res, 200, { status: 'ready' });
  });

  return router;
}

/** Why this instance should not get new traffic, or undefined when it should. */
export async function readinessFailure(opts: HealthOptions): Promise<ReadinessFailure | undefined> {
  if (opts.isDraining()) return 'draining';
  const reachable = await withTimeout(opts.redisPing, opts.timeoutMs);
  if (!reachable) return 'redis_unavailable';
  // Shutdown may have begun while we waited for Redis.
  if (opts.isDraining()) return 'draining';
  return undefined;
}

async function withTimeout(probe: () => Promise<unknown>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([
      Promise.resolve()
        .then(probe)
        .then(
          () => true,
          () => false,
        ),
      timedOut,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function send(res: Response, status: number, body: ProbeBody): void {
  // Probes must see the live state, never a cached answer from a proxy.
  res.setHeader('Cache-Control', 'no-store');
  res.status(status).json(body);
}
