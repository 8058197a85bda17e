/**
 * Access-token signing keys (ES256), shared by every instance through Redis.
 *
 * Layout (docs/oauth.md, "Keys in Redis"):
 * - `oauth:signing:current`  → kid of the key new tokens are signed with; TTL = rotation period.
 *   The first instance that finds it missing generates a key and wins with SET NX; the others load it.
 * - `oauth:signing-key:<kid>` → the JWK pair; TTL = rotation period + access-token lifetime, so a
 *   token signed just before rotation still verifies until it expires.
 * - `oauth:signing:published` → sorted set kid → expiry (ms), the JWKS listing.
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

const StoredKeySchema = z.object({
  kid: z.string(),
  alg: z.literal(SIGNING_ALG),
  privateJwk: z.record(z.string(), z.unknown()),
});
type StoredKey = z.infer<typeof StoredKeySchema>;

export interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
}

function publicPart(jwk: Record<string, unknown>): JWK {
  // An EC JWK's private part is `d`; everything else is public (RFC 7518 §6.2).
  const { d: _d, ...pub } = jwk;
  return pub as JWK;
}

export class SigningKeys {
  private readonly privateByKid = new Map<string, CryptoKey>();
  /** Verification keys by kid; `null` remembers a kid Redis does not know (forged tokens). */
  private readonly publicByKid = new LRUCache<string, CryptoKey | { missing: true }>({ max: 1000, ttl: 60_000 });

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keyspace,
    private readonly rotationSeconds: number,
    private readonly accessTokenSeconds: number,
  ) {}

  private currentKey() {
    return this.keys.oauth('signing', 'current');
  }
  private keyRecord(kid: string) {
    return this.keys.oauth('signing-key', kid);
  }
  private publishedSet() {
    return this.keys.oauth('signing', 'published');
  }

  /** The key to sign with now (one GET; the private key itself is cached per kid). */
  async current(): Promise<SigningKey> {
    let kid = await this.redis.get(this.currentKey());
    if (kid === null) kid = await this.rotate();
    let privateKey = this.privateByKid.get(kid);
    if (!privateKey) {
      const stored = await this.load(kid);
      if (!stored) {
        // The pointer outlived its key record (manual deletion): start over with a fresh key.
        await this.redis.del(this.currentKey());
        return this.current();
      }
      privateKey = (await importJWK(stored.privateJwk as JWK, SIGNING_ALG)) as CryptoKey;
      if (this.privateByKid.size > 16) this.privateByKid.clear();
      this.privateByKid.set(kid, privateKey);
    }
    return { kid, privateKey };
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

  /** The JWKS document (RFC 7517 §5) with every key a live token may be signed with. */
  async jwks(): Promise<{ keys: JWK[] }> {
    const now = Date.now();
    await this.redis.zremrangebyscore(this.publishedSet(), '-inf', now);
    const kids = await this.redis.zrangebyscore(this.publishedSet(), now, '+inf');
    if (kids.length === 0) return { keys: [] };
    // One GET per key, not MGET: in a cluster the records live in different hash slots.
    const raw = await Promise.all(kids.map((k) => this.redis.get(this.keyRecord(k))));
    const keys: JWK[] = [];
    for (const r of raw) {
      const parsed = r === null ? undefined : StoredKeySchema.safeParse(JSON.parse(r));
      if (parsed?.success) keys.push({ ...publicPart(parsed.data.privateJwk), kid: parsed.data.kid, alg: SIGNING_ALG, use: 'sig' });
    }
    return { keys };
  }

  private async load(kid: string): Promise<StoredKey | undefined> {
    const raw = await this.redis.get(this.keyRecord(kid));
    if (raw === null) return undefined;
    const parsed = StoredKeySchema.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : undefined;
  }

  /** Generate a key and try to make it current; returns whichever kid won the race. */
  private async rotate(): Promise<string> {
    const { privateKey } = await generateKeyPair(SIGNING_ALG, { extractable: true });
    const kid = randomBytes(12).toString('base64url');
    const record: StoredKey = { kid, alg: SIGNING_ALG, privateJwk: { ...(await exportJWK(privateKey)) } };
    const recordTtl = this.rotationSeconds + this.accessTokenSeconds + 60;
    // Key record and JWKS entry first, pointer last: whoever sees the pointer can load the key.
    await this.redis.set(this.keyRecord(kid), JSON.stringify(record), 'EX', recordTtl);
    const won = await this.redis.set(this.currentKey(), kid, 'EX', this.rotationSeconds, 'NX');
    if (won !== 'OK') {
      await this.redis.del(this.keyRecord(kid));
      const winner = await this.redis.get(this.currentKey());
      return winner ?? this.rotate();
    }
    const expiresAt = Date.now() + recordTtl * 1000;
    await this.redis
      .multi()
      .zadd(this.publishedSet(), expiresAt, kid)
      .pexpire(this.publishedSet(), recordTtl * 1000)
      .exec();
    this.privateByKid.set(kid, privateKey as CryptoKey);
    return kid;
  }
}
