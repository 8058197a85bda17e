/**
 * The shared counters behind every rate limit, and the per-request security checks of the
 * bearer-protected endpoints in one Redis round trip.
 *
 * A check is a list of steps, run in order by one Lua script on one Redis (or a Sentinel group's
 * master): a `count` step counts one fixed window (INCR; the first hit of a window sets its
 * expiry), a `live` step asks whether a key exists (the revocation check of an access token's
 * grant). The script stops at the first count over its limit and at the first missing key, so a
 * request refused by an earlier step is not counted by a later one, as when the checks ran one
 * after another.
 *
 * In a Redis Cluster the steps' keys live in different slots, which one script may not touch: the
 * steps are sent concurrently instead (one round trip per node, in parallel), and every step is
 * counted whatever the earlier ones answer.
 *
 * Scripts go by EVALSHA and fall back to EVAL when a node does not know them yet (a fresh node, a
 * promoted replica, a restart): Redis 7 neither replicates nor persists loaded scripts.
 *
 * With the embedded Redis stand-in (no REDIS_URL; single instance) counters live in process memory
 * (src/auth/securityCounters.ts); liveness is then not theirs to answer (`takesLiveness`), and the
 * caller asks the stand-in itself.
 */
import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { memoryCounters, type CheckStep, type SecurityCounters, type StepAnswer } from '../auth/securityCounters.js';
import { userKey, type Keyspace } from './keys.js';

// KEYS: one per step. ARGV[1]: the window in ms; ARGV[i + 1]: step i's limit, or -1 for a
// liveness check. Answers two numbers per step reached: hits and ms to the window's end, or
// EXISTS and 0.
const CHECKS = `
local window = tonumber(ARGV[1])
local out = {}
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[i + 1])
  if limit < 0 then
    local live = redis.call('EXISTS', key)
    out[#out + 1] = live
    out[#out + 1] = 0
    if live == 0 then break end
  else
    local hits = redis.call('INCR', key)
    local ttl = redis.call('PTTL', key)
    if ttl <= 0 then
      redis.call('PEXPIRE', key, window)
      ttl = window
    end
    out[#out + 1] = hits
    out[#out + 1] = ttl
    if hits > limit then break end
  end
end
return out`;
const CHECKS_SHA = createHash('sha1').update(CHECKS).digest('hex');

type Commands = Pick<Redis, 'evalsha' | 'eval' | 'exists'>;

export function redisCounters(redis: Redis | Cluster): SecurityCounters {
  const cluster = (redis as Partial<Cluster>).isCluster === true;
  const script = async (node: Commands, keys: string[], args: string[]): Promise<number[]> => {
    try {
      return (await node.evalsha(CHECKS_SHA, keys.length, ...keys, ...args)) as number[];
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return (await node.eval(CHECKS, keys.length, ...keys, ...args)) as number[];
    }
  };
  const answers = (steps: readonly CheckStep[], flat: number[]): StepAnswer[] =>
    steps.map((step, i) => {
      if (2 * i >= flat.length) return undefined;
      const a = Number(flat[2 * i]);
      return step.kind === 'live'
        ? { kind: 'live', live: a === 1 }
        : { kind: 'count', hits: a, resetMs: Number(flat[2 * i + 1]) };
    });
  const limitArg = (s: CheckStep) => (s.kind === 'live' ? '-1' : String(s.limit));
  return {
    takesLiveness: true,
    async run(steps, windowMs) {
      if (!cluster || steps.length === 1) {
        const flat = await script(
          redis,
          steps.map((s) => s.key),
          [String(windowMs), ...steps.map(limitArg)],
        );
        return answers(steps, flat);
      }
      return Promise.all(
        steps.map(async (s) =>
          s.kind === 'live'
            ? ({ kind: 'live', live: (await redis.exists(s.key)) === 1 } as const)
            : answers([s], await script(redis, [s.key], [String(windowMs), limitArg(s)]))[0],
        ),
      );
    },
  };
}

/**
 * The counters of a deployment: shared through Redis, or per process with the embedded stand-in
 * (undefined: it cannot run the script; that mode is single-instance, so per process is equivalent).
 */
export function securityCounters(redis: Redis | Cluster | undefined): SecurityCounters {
  return redis ? redisCounters(redis) : memoryCounters();
}

/** Where /mcp's two budgets count. Separate prefixes keep an address and a user hash from ever sharing a counter. */
export function mcpRateLimitKeys(keys: Keyspace): { addressPrefix: string; userCounter: (userId: string) => string } {
  const addressPrefix = keys.rateLimit('mcp-address');
  const userPrefix = keys.rateLimit('mcp-user');
  // The hashed form, as in every other Redis key: user ids stay out of the keyspace.
  return { addressPrefix, userCounter: (userId) => userPrefix + userKey(userId) };
}
