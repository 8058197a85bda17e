/**
 * Opaque credentials (authorization codes, refresh tokens, client secrets, flow ids, CSRF tokens):
 * 256 random bits, stored only as hashes.
 *
 * SHA-256 (not a password hash) is the right tool here: every value is 256 bits of CSPRNG output,
 * so there is nothing to brute-force, and a hash lookup must stay cheap on the token endpoint.
 * A Redis dump therefore reveals no usable code, refresh token or client secret.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export function newOpaqueToken(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * A secret computed from another under `key` (HMAC-SHA-256): the same inputs give the same secret,
 * and without `key` it cannot be told from a random one.
 */
export function deriveSecret(key: string, value: string): string {
  return createHmac('sha256', key).update(value, 'utf8').digest('base64url');
}

export function hashSecret(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('base64url');
}

/** Constant-time comparison of a presented secret with a stored hash (no timing oracle). */
export function secretMatchesHash(presented: string, storedHash: string): boolean {
  const a = Buffer.from(hashSecret(presented));
  const b = Buffer.from(storedHash);
  return a.length === b.length && timingSafeEqual(a, b);
}
