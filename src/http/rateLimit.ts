/**
 * Rate limits, counted in Redis so that every instance behind the load balancer enforces one shared
 * budget (a client spreading requests across instances gets no more than one gets). Fixed windows;
 * the counters are src/redis/rateLimitStore.ts. This is the one rate limiter of the server: the
 * bearer-protected endpoints (`mcpRateLimits`) and the authorization server's endpoints
 * (`fixedWindowLimiter`, via src/auth/server/rateLimits.ts) both count here.
 *
 * On the bearer-protected endpoints, two limits around authentication:
 *   - `perAddress` before auth: bounds token guessing and unauthenticated floods per client
 *     address. The address is express's `req.ip`, which honours `trust proxy` = TRUST_PROXY_HOPS
 *     (set on the app): only that many proxy hops of X-Forwarded-For are believed, so a client
 *     cannot pick its own address by sending the header. IPv6 clients are grouped by /56, since one
 *     subscriber usually holds a whole prefix.
 *   - `perUser` after auth: keyed on the verified user id (`req.auth.extra.userId`), whatever
 *     address or instance the user comes through.
 * Both, and the access token's revocation check, cost one Redis round trip together: `perAddress`
 * opens a batch of checks on the request (`req.deferredChecks`) and lets the request on, the
 * bearer middleware verifies the token locally and adds its revocation check, and `perUser` adds
 * its count and settles the batch with one script. The verdicts then apply in the order the checks
 * would have run one by one: the address limit (429), revocation (401), the user limit (429). When
 * authentication refuses without Redis (no token, a bad one), the address is counted first and an
 * exhausted address budget answers 429 instead, as before.
 *
 * Redis unreachable: the limits let the request through (it will fail in routing anyway, with the
 * real error); a revocation check that cannot be answered refuses with 503 + Retry-After.
 *
 * A rejected request gets 429 with Retry-After (RFC 6585 §4, RFC 9110 §10.2.3), the IETF RateLimit
 * headers, and a JSON-RPC error body, because MCP clients parse JSON-RPC from /mcp responses.
 */
import type { Request, RequestHandler, Response } from 'express';
import { ipKeyGenerator } from 'express-rate-limit';
import type { DeferredChecks, LivenessAnswers } from '../auth/bearer.js';
import { userIdOf } from '../auth/types.js';
import type { Config } from '../config.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics, RateLimitScope } from '../observability/metrics.js';
import type { CheckStep, SecurityCounters, StepAnswer } from '../auth/securityCounters.js';
import { JsonRpcCode, jsonRpcErrorBody } from './jsonRpcError.js';

export type RateLimitConfig = Pick<
  Config,
  'RATE_LIMIT_ENABLED' | 'RATE_LIMIT_WINDOW_SECONDS' | 'RATE_LIMIT_PER_USER' | 'RATE_LIMIT_PER_ADDRESS'
>;

export interface RateLimitDeps {
  /** The deployment's shared counters (src/redis/rateLimitStore.ts: `securityCounters`). */
  counters: SecurityCounters;
  /** Where the two budgets count (src/redis/rateLimitStore.ts: `mcpRateLimitKeys`). */
  keys: { addressPrefix: string; userCounter: (userId: string) => string };
  config: RateLimitConfig;
  metrics?: Metrics;
  log?: Logger;
}

export interface McpRateLimits {
  /** Before authentication: per client address (opens the request's batch of checks). */
  perAddress: RequestHandler;
  /** After authentication: per verified user (settles the batch). */
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

/** Whole seconds until a window resets, at least 1 (the Retry-After value). */
function secondsLeft(resetMs: number): number {
  return Math.max(1, Math.ceil(resetMs / 1000));
}

interface McpLimitContext {
  counters: SecurityCounters;
  windowMs: number;
  addressPrefix: string;
  userCounter: (userId: string) => string;
  addressLimit: number;
  userLimit: number;
  /** RateLimit-Policy: fixed for the deployment. */
  policy: string;
  deps: RateLimitDeps;
}

/** The checks of one request, settled in one round trip (see the module comment). */
class CheckBatch implements DeferredChecks {
  open = true;
  private live: { key: string; answers: LivenessAnswers } | undefined = undefined;

  constructor(
    private readonly ctx: McpLimitContext,
    private readonly addressKey: string | undefined,
  ) {}

  get takesLiveness(): boolean {
    return this.ctx.counters.takesLiveness;
  }

  requireLive(key: string, answers: LivenessAnswers): void {
    this.live = { key, answers };
  }

  refuse(req: Request, res: Response, refusal: () => void): void {
    this.settle(req, res, refusal, undefined);
  }

  /** Runs every collected check; `proceed` runs when none refuses. */
  settle(req: Request, res: Response, proceed: () => void, userKeyOfRequest: string | undefined): void {
    this.open = false;
    req.deferredChecks = undefined;
    const { ctx } = this;
    const steps: CheckStep[] = [];
    if (this.addressKey !== undefined) steps.push({ kind: 'count', key: this.addressKey, limit: ctx.addressLimit });
    const live = this.live;
    if (live) steps.push({ kind: 'live', key: live.key });
    if (userKeyOfRequest !== undefined) steps.push({ kind: 'count', key: userKeyOfRequest, limit: ctx.userLimit });
    if (steps.length === 0) return proceed();
    ctx.counters.run(steps, ctx.windowMs).then(
      (answers) => this.apply(req, res, proceed, steps, answers),
      (err: unknown) => {
        // The limits fail open; revocation, which nothing else would catch, fails closed.
        if (live) {
          req.log?.warn({ err: errorFields(err) }, 'revocation check failed');
          return live.answers.unavailable(res);
        }
        ctx.deps.log?.error({ err: errorFields(err) }, 'rate limiter error');
        proceed();
      },
    );
  }

  private apply(req: Request, res: Response, proceed: () => void, steps: CheckStep[], answers: StepAnswer[]): void {
    const { ctx } = this;
    const remaining: string[] = [];
    for (let i = 0; i < steps.length; i++) {
      const a = answers[i];
      if (a === undefined) break;
      if (a.kind === 'live') {
        if (!a.live) return this.live!.answers.revoked(res);
        continue;
      }
      const scope: RateLimitScope = steps[i]!.key === this.addressKey ? 'address' : 'user';
      const limit = scope === 'address' ? ctx.addressLimit : ctx.userLimit;
      const t = secondsLeft(a.resetMs);
      remaining.push(`"mcp-${scope}"; r=${Math.max(0, limit - a.hits)}; t=${t}`);
      if (a.hits > limit) {
        res.setHeader('RateLimit-Policy', ctx.policy);
        res.setHeader('RateLimit', remaining.join(', '));
        return reject(req, res, scope, t, ctx.deps);
      }
    }
    res.setHeader('RateLimit-Policy', ctx.policy);
    if (remaining.length > 0) res.setHeader('RateLimit', remaining.join(', '));
    proceed();
  }
}

function errorFields(err: unknown) {
  return err instanceof Error ? { name: err.name, message: err.message } : String(err);
}

function reject(req: Request, res: Response, scope: RateLimitScope, retryAfter: number, deps: RateLimitDeps): void {
  deps.metrics?.rateLimitRejections.inc({ scope });
  req.log?.debug({ scope }, 'rate limit exceeded');
  res.setHeader('Retry-After', String(retryAfter));
  res.status(429).json(jsonRpcErrorBody(JsonRpcCode.ServerError, `Rate limit exceeded; retry after ${retryAfter} s`));
}

export function mcpRateLimits(deps: RateLimitDeps): McpRateLimits {
  const { config } = deps;
  if (!config.RATE_LIMIT_ENABLED) {
    const pass: RequestHandler = (_req, _res, next) => next();
    return { perAddress: pass, perUser: pass };
  }
  const windowMs = config.RATE_LIMIT_WINDOW_SECONDS * 1000;
  const w = config.RATE_LIMIT_WINDOW_SECONDS;
  const ctx: McpLimitContext = {
    counters: deps.counters,
    windowMs,
    addressPrefix: deps.keys.addressPrefix,
    userCounter: deps.keys.userCounter,
    addressLimit: config.RATE_LIMIT_PER_ADDRESS,
    userLimit: config.RATE_LIMIT_PER_USER,
    policy: `"mcp-address"; q=${config.RATE_LIMIT_PER_ADDRESS}; w=${w}, "mcp-user"; q=${config.RATE_LIMIT_PER_USER}; w=${w}`,
    deps,
  };

  const perAddress: RequestHandler = (req, _res, next) => {
    // req.ip is undefined only once the socket is gone; such a request is answered by nobody anyway.
    req.deferredChecks = new CheckBatch(ctx, ctx.addressPrefix + ipKeyGenerator(req.ip ?? 'unknown', IPV6_SUBNET));
    next();
  };

  const perUser: RequestHandler = (req, res, next) => {
    const pending = req.deferredChecks;
    const batch = pending instanceof CheckBatch && pending.open ? pending : new CheckBatch(ctx, undefined);
    const userId = userIdOf(req.auth);
    if (userId === undefined) {
      // Settle what was collected (an exhausted address budget still answers 429), then refuse to go on.
      batch.settle(
        req,
        res,
        () => next(new RateLimitWiringError('per-user rate limit ran before authentication')),
        undefined,
      );
      return;
    }
    batch.settle(req, res, () => next(), ctx.userCounter(userId));
  };

  const countUserMessage = async (userId: string): Promise<number | undefined> => {
    let answers: StepAnswer[];
    try {
      answers = await ctx.counters.run(
        [{ kind: 'count', key: ctx.userCounter(userId), limit: ctx.userLimit }],
        windowMs,
      );
    } catch (err) {
      // As for requests: an unreachable store lets the message through.
      deps.log?.error({ err: errorFields(err) }, 'rate limiter error');
      return undefined;
    }
    const a = answers[0];
    if (a?.kind !== 'count' || a.hits <= ctx.userLimit) return undefined;
    deps.metrics?.rateLimitRejections.inc({ scope: 'user' });
    return secondsLeft(a.resetMs);
  };

  return { perAddress, perUser, countUserMessage };
}

export interface FixedWindowOptions {
  counters: SecurityCounters;
  /** Key prefix of this limiter's counters (one per limiter). */
  prefix: string;
  windowMs: number;
  limit: number;
  /** The request's partition, e.g. its client address. */
  key: (req: Request) => string;
  /** Answers a request over the limit; Retry-After and the RateLimit headers are already set. */
  reject: (req: Request, res: Response) => void;
  /** Name in the RateLimit headers. */
  name: string;
  log?: Logger;
}

/** One fixed-window limit as middleware (shared counters; lets requests through when Redis is unreachable). */
export function fixedWindowLimiter(opts: FixedWindowOptions): RequestHandler {
  const w = Math.ceil(opts.windowMs / 1000);
  const policy = `"${opts.name}"; q=${opts.limit}; w=${w}`;
  return (req, res, next) => {
    opts.counters.run([{ kind: 'count', key: opts.prefix + opts.key(req), limit: opts.limit }], opts.windowMs).then(
      (answers) => {
        const a = answers[0];
        if (a?.kind !== 'count') return next();
        const t = secondsLeft(a.resetMs);
        res.setHeader('RateLimit-Policy', policy);
        res.setHeader('RateLimit', `"${opts.name}"; r=${Math.max(0, opts.limit - a.hits)}; t=${t}`);
        if (a.hits <= opts.limit) return next();
        res.setHeader('Retry-After', String(t));
        opts.reject(req, res);
      },
      (err: unknown) => {
        opts.log?.error({ err: errorFields(err) }, 'rate limiter error');
        next();
      },
    );
  };
}
