/**
 * The keys that seal multi-round-trip `requestState` (spec 2026-07-28 basic/patterns/mrtr: state
 * that influences business logic MUST be integrity-protected), shared by every instance through
 * Redis, because the retry of a round may land on any instance. The sealing itself is the SDK's
 * HMAC codec (src/mcp/requestState.ts); this module only owns the keys.
 *
 * Rotation with overlap, the same care as the access-token signing keys: each key seals new state
 * for one rotation period (`notAfter`), and still verifies state for one state lifetime after that
 * (`verifyUntil`), so a retry minted just before a rotation is not refused. The instance that
 * first needs a key after `notAfter` rotates with a script (compare-and-set on `current`), so
 * concurrent instances agree on one key; the same script drops keys nothing can still verify with.
 *
 * Layout (`Keyspace.requestStateKeys`, one hash): `current` → kid; per key `s:<kid>` → the
 * secret (base64url), `n:<kid>` → end of its sealing period, `v:<kid>` → end of its
 * verification window (epoch ms). The hash expires when nobody rotated it for a whole period
 * plus a state lifetime, i.e. when no state sealed with it can still be valid.
 *
 * The secrets sit in Redis in plain form, like the signing keys (Redis is already the trust
 * anchor: it holds grants and sessions); production should derive them from a KMS.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import { z } from 'zod';
import type { StateKey, StateKeySource } from '../mcp/requestState.js';

const Fields = z.record(z.string(), z.string());
const Secret = z.string().regex(/^[A-Za-z0-9_-]{43}$/);
const Millis = z.coerce.number().int();
type Entry = StateKey & { notAfter: number; verifyUntil: number };

// KEYS[1] = the hash; ARGV = now, new kid, secret, notAfter, verifyUntil, hash lifetime (ms).
// Installs the new key only when the current one is missing or past its sealing period, and
// drops every key whose verification window has closed. Returns 1 if it rotated.
const ROTATE = `
local now = tonumber(ARGV[1])
local cur = redis.call('HGET', KEYS[1], 'current')
if cur then
  local notAfter = redis.call('HGET', KEYS[1], 'n:' .. cur)
  if notAfter and tonumber(notAfter) > now then return 0 end
end
redis.call('HSET', KEYS[1], 's:' .. ARGV[2], ARGV[3], 'n:' .. ARGV[2], ARGV[4], 'v:' .. ARGV[2], ARGV[5], 'current', ARGV[2])
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if string.sub(all[i], 1, 2) == 'v:' and tonumber(all[i + 1]) <= now then
    local kid = string.sub(all[i], 3)
    redis.call('HDEL', KEYS[1], 's:' .. kid, 'n:' .. kid, 'v:' .. kid)
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return 1`;

/** A kid is 12 random bytes, base64url: no `~`, so it can prefix the sealed state unambiguously. */
const KID = /^[A-Za-z0-9_-]{16}$/;

export class RedisStateKeys implements StateKeySource {
  private readonly keys = new Map<string, Entry>();
  private currentKid: string | undefined;
  private refreshing: Promise<void> | undefined;
  /** Kids Redis did not know: a forged kid costs one lookup per cooldown, not one per request. */
  private readonly unknown = new LRUCache<string, true>({ max: 1000, ttl: 30_000 });

  constructor(
    private readonly redis: Redis,
    private readonly hashKey: string,
    private readonly rotationMs: number,
    private readonly stateTtlMs: number,
    private readonly clock: () => number = Date.now,
  ) {}

  async current(): Promise<StateKey> {
    const cached = this.currentKid === undefined ? undefined : this.keys.get(this.currentKid);
    if (cached && this.clock() < cached.notAfter) return cached;
    await this.refresh(true);
    const key = this.currentKid === undefined ? undefined : this.keys.get(this.currentKid);
    if (!key) throw new Error('request state keys: Redis holds no current key after rotation');
    return key;
  }

  async find(kid: string): Promise<StateKey | undefined> {
    if (!KID.test(kid)) return undefined;
    const now = this.clock();
    const cached = this.keys.get(kid);
    if (cached) return now < cached.verifyUntil ? cached : undefined;
    if (this.unknown.has(kid)) return undefined;
    await this.refresh(false);
    const loaded = this.keys.get(kid);
    if (loaded && now < loaded.verifyUntil) return loaded;
    this.unknown.set(kid, true);
    return undefined;
  }

  /** Reloads the ring (rotating first when asked); concurrent callers share one round trip. */
  private refresh(rotate: boolean): Promise<void> {
    this.refreshing ??= this.load(rotate).finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private async load(rotate: boolean): Promise<void> {
    if (rotate) {
      const now = this.clock();
      const kid = randomBytes(12).toString('base64url');
      const notAfter = now + this.rotationMs;
      const verifyUntil = notAfter + this.stateTtlMs;
      const lifetime = verifyUntil - now + 60_000;
      await this.redis.eval(
        ROTATE,
        1,
        this.hashKey,
        String(now),
        kid,
        randomBytes(32).toString('base64url'),
        String(notAfter),
        String(verifyUntil),
        String(lifetime),
      );
    }
    const all = Fields.parse(await this.redis.hgetall(this.hashKey));
    this.keys.clear();
    for (const [field, value] of Object.entries(all)) {
      if (!field.startsWith('s:')) continue;
      const kid = field.slice(2);
      const secret = Secret.safeParse(value);
      const notAfter = Millis.safeParse(all[`n:${kid}`]);
      const verifyUntil = Millis.safeParse(all[`v:${kid}`]);
      if (!secret.success || !notAfter.success || !verifyUntil.success) continue;
      this.keys.set(kid, {
        kid,
        secret: Buffer.from(secret.data, 'base64url'),
        notAfter: notAfter.data,
        verifyUntil: verifyUntil.data,
      });
    }
    this.currentKid = all['current'];
  }
}
