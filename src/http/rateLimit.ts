/**
 * Rate limits on /mcp, counted in Redis so that every instance behind the load balancer enforces
 * one shared budget (a client spreading requests across instances gets no more than one gets).
 *
 * Two limiters, placed around authentication:
 *   - `perAddress` before auth: bounds token guessing and unauthenticated floods per client
 *     address. The address is express's `req.ip`, which honours `trust proxy` = TRUST_PROXY_HOPS
 *     (set on the app): only that many proxy hops of X-Forwarded-For are believed, so a client
 *     cannot pick its own address by sending the header. IPv6 clients are grouped by /56, since one
 *     subscriber usually holds a whole prefix.
 *   - `perUser` after auth: keyed on the verified user id (`req.auth.extra.userId`), whatever
 *     address or instance the user comes through.
 *
 * A rejected request gets 429 with Retry-After (RFC 6585 §4, RFC 9110 §10.2.3), the IETF RateLimit
 * headers, and a JSON-RPC error body, because MCP clients parse JSON-RPC from /mcp responses.
 */
import type { RequestHandler } from 'express';
import { ipKeyGenerator, MemoryStore, rateLimit, type Options, type Store } from 'express-rate-limit';
import type { Redis } from 'ioredis';
import { userIdOf } from '../auth/types.js';
import type { Config } from '../config.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics, RateLimitScope } from '../observability/metrics.js';
import { userKey, type Keyspace } from '../redis/keys.js';
import { rateLimitStore } from '../redis/rateLimitStore.js';
import { JsonRpcCode, jsonRpcErrorBody } from './jsonRpcError.js';

export type RateLimitConfig = Pick<
  Config,
  'RATE_LIMIT_ENABLED' | 'RATE_LIMIT_WINDOW_SECONDS' | 'RATE_LIMIT_PER_USER' | 'RATE_LIMIT_PER_ADDRESS'
>;

export interface RateLimitDeps {
  /**
   * The instance's command connection. Undefined only with the embedded Redis stand-in (no
   * REDIS_URL), which cannot run the store's Lua scripts; counters then live in process memory,
   * which is equivalent there because that mode is single-instance.
   */
  redis: Pick<Redis, 'call'> | undefined;
  keys: Keyspace;
  config: RateLimitConfig;
  metrics?: Metrics;
  log?: Logger;
}

export interface McpRateLimits {
  /** Before authentication: per client address. */
  perAddress: RequestHandler;
  /** After authentication: per verified user. */
  perUser: RequestHandler;
  /**
   * Counts one message of an open WebSocket against the user's budget, on the very counter
   * `perUser` uses (a socket must not be a way around the limit). Resolves to the seconds until the
   * window resets when the budget is spent, else undefined. Absent when rate limits are off.
   */
  countUserMessage?: (userId: string) => Promise<number | undefined>;
}

/** `perUser` ran before authentication set a user: a wiring bug, surfaced as a 500, never a bypass. */
export class RateLimitWiringError extends Error {
  override name = 'RateLimitWiringError';
}

const IPV6_SUBNET = 56;

export function mcpRateLimits(deps: RateLimitDeps): McpRateLimits {
  const { config } = deps;
  if (!config.RATE_LIMIT_ENABLED) {
    const pass: RequestHandler = (_req, _res, next) => next();
    return { perAddress: pass, perUser: pass };
  }

  const perAddress = limiter(deps, 'address', config.RATE_LIMIT_PER_ADDRESS, (req) =>
    // req.ip is undefined only once the socket is gone; such a request is answered by nobody anyway.
    ipKeyGenerator(req.ip ?? 'unknown', IPV6_SUBNET),
  );

  // The hashed form, as in every other Redis key: user ids stay out of the keyspace. The wrapper
  // below guarantees a user is present. The store is kept: WebSocket messages count on it too.
  const userStore = store(deps, 'user');
  const perUserLimiter = limiter(deps, 'user', config.RATE_LIMIT_PER_USER, (req) => userKey(userIdOf(req.auth) ?? ''), userStore);
  const perUser: RequestHandler = (req, res, next) => {
    if (userIdOf(req.auth) === undefined) {
      next(new RateLimitWiringError('per-user rate limit ran before authentication'));
      return;
    }
    return perUserLimiter(req, res, next);
  };

  const windowMs = config.RATE_LIMIT_WINDOW_SECONDS * 1000;
  const countUserMessage = async (userId: string): Promise<number | undefined> => {
    let hits;
    try {
      hits = await userStore.increment(userKey(userId));
    } catch (err) {
      // As for requests (passOnStoreError): an unreachable store lets the message through.
      deps.log?.error({ err }, 'rate limiter error');
      return undefined;
    }
    if (hits.totalHits <= config.RATE_LIMIT_PER_USER) return undefined;
    deps.metrics?.rateLimitRejections.inc({ scope: 'user' });
    const resetAt = hits.resetTime?.getTime() ?? Date.now() + windowMs;
    return Math.max(1, Math.ceil((resetAt - Date.now()) / 1000));
  };

  return { perAddress, perUser, countUserMessage };
}

/**
 * The counter store of one limiter: shared through Redis, or in process memory with the embedded
 * stand-in. One store per limiter (express-rate-limit refuses a shared one); separate key prefixes
 * keep an address and a user hash from ever sharing a counter.
 */
function store(deps: RateLimitDeps, scope: RateLimitScope): Store {
  const redis = deps.redis;
  return redis ? rateLimitStore(redis, deps.keys.rateLimit(`mcp-${scope}`)) : new MemoryStore();
}

function limiter(
  deps: RateLimitDeps,
  scope: RateLimitScope,
  limit: number,
  keyGenerator: Options['keyGenerator'],
  counters: Store = store(deps, scope),
): RequestHandler {
  const windowMs = deps.config.RATE_LIMIT_WINDOW_SECONDS * 1000;
  return rateLimit({
    windowMs,
    limit,
    keyGenerator,
    identifier: `mcp-${scope}`,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    store: counters,
    // If Redis is unreachable the request itself cannot be routed either; let it through to fail
    // there with the routing error instead of answering a misleading 429/500 here.
    passOnStoreError: true,
    logger: {
      error: (err, message) => deps.log?.error({ err }, message ?? 'rate limiter error'),
      warn: (err, message) => deps.log?.warn({ err }, message ?? 'rate limiter warning'),
    },
    validate: {
      // Our client address comes from TRUST_PROXY_HOPS; an X-Forwarded-For sent by a client when
      // no proxy is trusted is simply ignored, not a misconfiguration worth an error log.
      xForwardedForHeader: false,
    },
    handler: (req, res) => {
      deps.metrics?.rateLimitRejections.inc({ scope });
      req.log?.debug({ scope }, 'rate limit exceeded');
      const retryAfter = res.getHeader('Retry-After');
      const message =
        typeof retryAfter === 'string' || typeof retryAfter === 'number'
          ? `Rate limit exceeded; retry after ${retryAfter} s`
          : 'Rate limit exceeded';
      res.status(429).json(jsonRpcErrorBody(JsonRpcCode.ServerError, message));
    },
  });
}
