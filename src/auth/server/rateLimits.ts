/**
 * Rate limits on the authorization-server endpoints, counted in Redis so the limit holds for the
 * deployment rather than per instance (a round-robin balancer would otherwise multiply it by N).
 * Defaults follow SDK 1.x's authorization-server handlers; `multiplier` relaxes them for test runs.
 */
import { ipKeyGenerator, rateLimit, type Options } from 'express-rate-limit';
import type { RequestHandler } from 'express';
import type { Redis } from 'ioredis';
import type { Keyspace } from '../../redis/keys.js';
import { OAuthError, OAuthErrorCode } from '../oauthError.js';
import { rateLimitStore } from '../../redis/rateLimitStore.js';
import { clientAddress } from './clientAddress.js';
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
  trustProxyHops: number;
  options: RateLimitOptions;
}

/** Options for one endpoint's limiter. */
export function rateLimitOptions(endpoint: LimitedEndpoint, deps: RateLimitDeps): Partial<Options> {
  const d = DEFAULTS[endpoint];
  const store = deps.options.store === 'redis' ? rateLimitStore(deps.redis, deps.keys.rateLimit(`oauth-${endpoint}`)) : undefined;
  return {
    windowMs: d.windowMs,
    limit: Math.max(1, Math.round(d.limit * deps.options.multiplier)),
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    store,
    keyGenerator: (req) => ipKeyGenerator(clientAddress(req, deps.trustProxyHops)),
    // We derive the address ourselves (trusted hop count); the library's X-Forwarded-For and
    // trust-proxy checks concern `req.ip`, which we do not use.
    validate: { xForwardedForHeader: false, trustProxy: false },
    message: new OAuthError(OAuthErrorCode.TooManyRequests, `too many ${endpoint} requests; try again later`).toResponseObject(),
  };
}

export function rateLimiter(endpoint: LimitedEndpoint, deps: RateLimitDeps | undefined): RequestHandler {
  if (!deps) return (_req, _res, next) => next();
  return rateLimit(rateLimitOptions(endpoint, deps));
}
