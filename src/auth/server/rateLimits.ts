/**
 * Rate limits on the authorization-server endpoints, counted in Redis so the limit holds for the
 * deployment rather than per instance (a round-robin balancer would otherwise multiply it by N).
 * The same fixed-window counters as the MCP endpoints (src/http/rateLimit.ts). Defaults follow SDK
 * 1.x's authorization-server handlers; `multiplier` relaxes them for test runs.
 */
import { ipKeyGenerator } from 'express-rate-limit';
import type { RequestHandler } from 'express';
import type { Redis } from 'ioredis';
import type { Keyspace } from '../../redis/keys.js';
import { fixedWindowLimiter } from '../../http/rateLimit.js';
import { securityCounters } from '../../redis/rateLimitStore.js';
import { OAuthError, OAuthErrorCode } from '../oauthError.js';
import type { RateLimitOptions } from './options.js';

export type LimitedEndpoint = 'authorize' | 'interaction' | 'token' | 'register' | 'revoke' | 'introspect';

const MINUTE = 60_000;
const DEFAULTS: Record<LimitedEndpoint, { windowMs: number; limit: number }> = {
  authorize: { windowMs: 15 * MINUTE, limit: 100 },
  interaction: { windowMs: 15 * MINUTE, limit: 200 },
  token: { windowMs: 15 * MINUTE, limit: 50 },
  register: { windowMs: 60 * MINUTE, limit: 20 },
  revoke: { windowMs: 15 * MINUTE, limit: 50 },
  // Resource servers introspect on behalf of all their users.
  introspect: { windowMs: 1 * MINUTE, limit: 6000 },
};

export interface RateLimitDeps {
  redis: Redis;
  keys: Keyspace;
  options: RateLimitOptions;
}

export function rateLimiter(endpoint: LimitedEndpoint, deps: RateLimitDeps | undefined): RequestHandler {
  if (!deps) return (_req, _res, next) => next();
  const d = DEFAULTS[endpoint];
  const body = new OAuthError(
    OAuthErrorCode.TooManyRequests,
    `too many ${endpoint} requests; try again later`,
  ).toResponseObject();
  return fixedWindowLimiter({
    counters: securityCounters(deps.options.store === 'redis' ? deps.redis : undefined),
    prefix: deps.keys.rateLimit(`oauth-${endpoint}`),
    name: `oauth-${endpoint}`,
    windowMs: d.windowMs,
    limit: Math.max(1, Math.round(d.limit * deps.options.multiplier)),
    // `req.ip`: Express resolves X-Forwarded-For with the app's `trust proxy` (TRUST_PROXY_HOPS).
    key: (req) => ipKeyGenerator(req.ip ?? 'unknown'),
    reject: (_req, res) => void res.status(429).json(body),
  });
}
