/**
 * Access-token signing keys (ES256), shared by every instance through Redis, rotated so that a key
 * is in the JWKS well before anything is signed with it (security review finding 6): resource
 * servers cache the JWKS (RFC 7517 consumers; jose caches up to ten minutes and refetches an
 * unknown kid at most once per cooldown), so a key that signs the moment it is published gets
 * valid tokens refused until their cache turns over.
 *
 * Each key has a signing period [notBefore, notAfter) of one rotation period. While the current
 * key has less than PUBLISH_AHEAD left, the next key (notBefore = current notAfter) is generated
 * and published; when the current period ends, the next key becomes current. Decisions use the
 * times stored in the records and the injected clock; Redis TTLs only collect garbage.
 *
 * Layout (docs/oauth.md, "Keys in Redis"):
 * - `oauth:{signing}:current` → kid of the key new tokens are signed with.
 * - `oauth:{signing}:next`    → kid of the published key that signs after it.
 * - `oauth:{signing}:key:<kid>` → the JWK pair and its signing period; lives until its last token
 *   (notAfter + access-token lifetime) has expired.
 * - `oauth:{signing}:published` → sorted set kid → expiry (ms), the JWKS listing.
 * Pointer changes are compare-and-set, so concurrent instances agree on one key.
 *
 * The private key sits in Redis in plain JWK form. Acceptable for this reference server (Redis is
 * already the trust anchor: it holds grants and revocation state); production should keep keys in
 * a KMS/HSM and sign there.
 */
import { exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import { LRUCache } from 'lru-cache';
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { Keyspace } from '../../redis/keys.js';

export const SIGNING_ALG = 'ES256';

/** How long before it signs a key is published: a quarter of the rotation period, at most a day. */
export function publishAheadSeconds(rotationSeconds: number): number {
  return Math.min(24 * 3600, Math.floor(rotationSeconds / 4));
}

const StoredKeySchema = z.object({
  kid: z.string(),
  alg: z.literal(SIGNING_ALG),
  privateJwk: z.record(z.string(), z.unknown()),
  /** Signing period in epoch ms (absent on keys written before rotation-ahead existed). */
  notBefore: z.number().optional(),
  notAfter: z.number().optional(),
});
type StoredKey = z.infer<typeof StoredKeySchema>;
type DatedKey = StoredKey & { notBefore: number; notAfter: number };

export interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
}

// Moves a pointer from the kid the caller saw ('' = none) to a new one; 0 if someone was faster.
const SWAP_POINTER = `
local cur = redis.call('GET', KEYS[1])
if (cur or '') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1`;

const DELETE_IF = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

function publicPart(jwk: Record<string, unknown>): JWK {
  // An EC JWK's private part is `d`; everything else is public (RFC 7518 §6.2).
  const { d: _d, ...pub } = jwk;
  return pub;
}

export class SigningKeys {
  private readonly privateByKid = new Map<string, CryptoKey>();
  /** Verification keys by kid; `missing` remembers a kid Redis does not know (forged tokens). */
  private readonly publicByKid = new LRUCache<string, CryptoKey | { missing: true }>({ max: 1000, ttl: 60_000 });
  private readonly aheadMs: number;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keyspace,
    private readonly rotationSeconds: number,
    private readonly accessTokenSeconds: number,
    private readonly clock: () => number = Date.now,
  ) {
    this.aheadMs = publishAheadSeconds(rotationSeconds) * 1000;
  }

  private pointer(which: 'current' | 'next') {
    return this.keys.oauthSigning(which);
  }
  private keyRecord(kid: string) {
    return this.keys.oauthSigning(`key:${kid}`);
  }
  private publishedSet() {
    return this.keys.oauthSigning('published');
  }

  /** The key to sign with now; publishes the next one when the current nears its end. */
  async current(): Promise<SigningKey> {
    const key = await this.maintain();
    let privateKey = this.privateByKid.get(key.kid);
    if (!privateKey) {
      privateKey = (await importJWK(key.privateJwk as JWK, SIGNING_ALG)) as CryptoKey;
      if (this.privateByKid.size > 16) this.privateByKid.clear();
      this.privateByKid.set(key.kid, privateKey);
    }
    return { kid: key.kid, privateKey };
  }

  /** Verification key for a kid, or undefined when no live key has it. */
  async publicKey(kid: string): Promise<CryptoKey | undefined> {
    const cached = this.publicByKid.get(kid);
    if (cached) return 'missing' in cached ? undefined : cached;
    const stored = await this.load(kid);
    if (!stored) {
      this.publicByKid.set(kid, { missing: true });
      return undefined;
    }
    const key = (await importJWK(publicPart(stored.privateJwk), SIGNING_ALG)) as CryptoKey;
    this.publicByKid.set(kid, key);
    return key;
  }

  /** The JWKS document (RFC 7517 §5): every key a live token may be signed with, and the next one. */
  async jwks(): Promise<{ keys: JWK[] }> {
    // Serving the JWKS is also a moment to publish the next key, so it is out there early.
    await this.maintain();
    const now = this.clock();
    await this.redis.zremrangebyscore(this.publishedSet(), '-inf', now);
    const kids = await this.redis.zrangebyscore(this.publishedSet(), now, '+inf');
    if (kids.length === 0) return { keys: [] };
    // One GET per key, not MGET: in a cluster the records live in different hash slots.
    const raw = await Promise.all(kids.map((k) => this.redis.get(this.keyRecord(k))));
    const keys: JWK[] = [];
    for (const r of raw) {
      const parsed = r === null ? undefined : StoredKeySchema.safeParse(JSON.parse(r));
      if (parsed?.success)
        keys.push({ ...publicPart(parsed.data.privateJwk), kid: parsed.data.kid, alg: SIGNING_ALG, use: 'sig' });
    }
    return { keys };
  }

  /** The current key, after promoting the next one or publishing it when due. */
  private async maintain(): Promise<DatedKey> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const now = this.clock();
      const currentKid = (await this.redis.get(this.pointer('current'))) ?? '';
      let current = currentKid ? await this.dated(currentKid) : undefined;
      if (current && now >= current.notAfter && !(await this.nextReady(now))) {
        // Nothing published the next key ahead of time (no signature and no JWKS fetch during the
        // publish-ahead window): the current key signs on while its successor gets published,
        // rather than signing with a key no resource server has seen yet.
        current = await this.extend(now, current);
      }
      if (!current || now >= current.notAfter) {
        current = await this.advance(now, currentKid);
        if (!current) continue; // lost a race; read again
      }
      if (current.notAfter - now <= this.aheadMs) await this.publishNext(now, current);
      return current;
    }
    throw new Error('signing keys: could not agree on a current key');
  }

  /** Whether a published next key may sign at `now`. */
  private async nextReady(now: number): Promise<boolean> {
    const nextKid = await this.redis.get(this.pointer('next'));
    const next = nextKid ? await this.dated(nextKid) : undefined;
    return next !== undefined && next.notBefore <= now && now < next.notAfter;
  }

  /**
   * Moves the end of `key`'s signing period to one publish-ahead period from now, and keeps it (and
   * its tokens) verifiable accordingly. Concurrent instances may both extend; the periods they write
   * differ by moments and either is safe, since the successor is published from now on.
   */
  private async extend(now: number, key: DatedKey): Promise<DatedKey> {
    const extended: DatedKey = { ...key, notAfter: now + this.aheadMs };
    const expiresAt = extended.notAfter + (this.accessTokenSeconds + 60) * 1000;
    await this.redis
      .multi()
      .set(this.keyRecord(key.kid), JSON.stringify(extended), 'PX', expiresAt - now)
      .set(this.pointer('current'), key.kid, 'PX', extended.notAfter - now)
      .zadd(this.publishedSet(), expiresAt, key.kid)
      .exec();
    await this.keepPublishedSetUntilLastExpiry(now);
    return extended;
  }

  /** Makes the next key current (it was published ahead), or starts afresh when there is none. */
  private async advance(now: number, seenKid: string): Promise<DatedKey | undefined> {
    const nextKid = await this.redis.get(this.pointer('next'));
    const next = nextKid ? await this.dated(nextKid) : undefined;
    // Without a pre-published key (first start: there is no key to sign on with, see maintain()),
    // a fresh key has to sign at once; resource servers then find it by refetching the JWKS.
    const key = next && next.notBefore <= now && now < next.notAfter ? next : await this.create(now, now);
    const swapped = await this.redis.eval(
      SWAP_POINTER,
      1,
      this.pointer('current'),
      seenKid,
      key.kid,
      String(key.notAfter - now),
    );
    if (swapped !== 1) {
      if (key !== next) await this.discard(key.kid);
      return undefined;
    }
    if (key === next) await this.redis.eval(DELETE_IF, 1, this.pointer('next'), next.kid);
    return key;
  }

  private async publishNext(now: number, current: DatedKey): Promise<void> {
    const nextKid = (await this.redis.get(this.pointer('next'))) ?? '';
    if (nextKid && nextKid !== current.kid) {
      const next = await this.dated(nextKid);
      if (next && next.notBefore >= current.notAfter) return;
    }
    const key = await this.create(now, current.notAfter);
    const won = await this.redis.eval(
      SWAP_POINTER,
      1,
      this.pointer('next'),
      nextKid,
      key.kid,
      String(key.notAfter - now),
    );
    if (won !== 1) await this.discard(key.kid);
  }

  /** Generates a key signing from `notBefore` for one rotation period, and publishes it. */
  private async create(now: number, notBefore: number): Promise<DatedKey> {
    const { privateKey } = await generateKeyPair(SIGNING_ALG, { extractable: true });
    const kid = randomBytes(12).toString('base64url');
    const notAfter = notBefore + this.rotationSeconds * 1000;
    const record: DatedKey = {
      kid,
      alg: SIGNING_ALG,
      privateJwk: { ...(await exportJWK(privateKey)) },
      notBefore,
      notAfter,
    };
    // Its last token expires one access-token lifetime after its period; a minute of slack.
    const expiresAt = notAfter + (this.accessTokenSeconds + 60) * 1000;
    await this.redis
      .multi()
      .set(this.keyRecord(kid), JSON.stringify(record), 'PX', expiresAt - now)
      .zadd(this.publishedSet(), expiresAt, kid)
      .exec();
    await this.keepPublishedSetUntilLastExpiry(now);
    this.privateByKid.set(kid, privateKey);
    return record;
  }

  /** The listing lives as long as its longest-lived key (a shorter TTL would unpublish keys early). */
  private async keepPublishedSetUntilLastExpiry(now: number): Promise<void> {
    const [, lastExpiry] = await this.redis.zrange(this.publishedSet(), -1, -1, 'WITHSCORES');
    if (lastExpiry !== undefined) await this.redis.pexpire(this.publishedSet(), Math.max(1, Number(lastExpiry) - now));
  }

  private async discard(kid: string): Promise<void> {
    this.privateByKid.delete(kid);
    await this.redis.multi().del(this.keyRecord(kid)).zrem(this.publishedSet(), kid).exec();
  }

  private async load(kid: string): Promise<StoredKey | undefined> {
    const raw = await this.redis.get(this.keyRecord(kid));
    if (raw === null) return undefined;
    const parsed = StoredKeySchema.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : undefined;
  }

  /** A key with its signing period; a key from before rotation-ahead signs until its pointer expires. */
  private async dated(kid: string): Promise<DatedKey | undefined> {
    const stored = await this.load(kid);
    if (!stored) return undefined;
    if (stored.notBefore !== undefined && stored.notAfter !== undefined) return stored as DatedKey;
    const ttl = await this.redis.pttl(this.pointer('current'));
    const now = this.clock();
    return { ...stored, notBefore: now, notAfter: now + Math.max(0, ttl) };
  }
}
