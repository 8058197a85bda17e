/**
 * Signing-key rotation as a resource server with a cached JWKS sees it: every key that signs a
 * token was published in the JWKS long before its first token (RFC 7517 consumers cache the set;
 * a key that signs the moment it appears is refused by them until their cache expires).
 */
import { decodeProtectedHeader } from 'jose';
import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { createLogger } from '../../observability/logger.js';
import { createKeyspace } from '../../redis/keys.js';
import { createAuthorizationServer } from './authorizationServer.js';

const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const prefix = `t${randomBytes(5).toString('hex')}`;
const redis = new Redis(REDIS_URL);

afterAll(async () => {
  const left = await redis.keys(`${prefix}:*`);
  if (left.length) await redis.del(...left);
  redis.disconnect();
});

let servers = 0;
/** Each test its own keyspace, so one test's keys never stand in for another's. */
function authorizationServer(rotation: number, clock: () => number) {
  servers += 1;
  return createAuthorizationServer({
    issuer: 'http://localhost:3232',
    resources: ['http://localhost:3232/mcp'],
    scopes: ['mcp'],
    redis,
    keys: createKeyspace(`${prefix}:${servers}`),
    log: createLogger('silent'),
    rateLimit: false,
    lifetimes: { signingKey: rotation, accessToken: 900 },
    clock,
  });
}

async function seedGrant(as: ReturnType<typeof authorizationServer>, start: number) {
  const grant = {
    id: 'g1',
    clientId: 'c',
    userId: 'alice',
    scopes: ['mcp'],
    resource: 'http://localhost:3232/mcp',
    expiresAt: start + 30 * 86400_000,
  };
  await redis.hset(as.internals.grants.grantKey('g1'), {
    clientId: 'c',
    userId: 'alice',
    scopes: 'mcp',
    resource: grant.resource,
    expiresAt: String(grant.expiresAt),
  });
  return async () => (await as.internals.tokens.issue(grant, ['mcp'])).token;
}

test('the next key is published ahead of signing; old tokens keep verifying after the switch', async () => {
  const start = Date.now();
  let now = start;
  const rotation = 4 * 3600;
  const as = authorizationServer(rotation, () => now);
  const sign = await seedGrant(as, start);

  const firstPublished = new Map<string, number>();
  const signers: string[] = [];
  let previous: string | undefined;
  for (let t = 0; t <= 9 * 3600; t += 600) {
    now = start + t * 1000;
    // What a resource server fetching the JWKS at this moment would cache.
    for (const k of (await as.internals.signingKeys.jwks()).keys)
      if (!firstPublished.has(k.kid!)) firstPublished.set(k.kid!, now);
    const token = await sign();
    const kid = decodeProtectedHeader(token).kid!;
    if (kid !== signers.at(-1)) {
      signers.push(kid);
      // Published at least half an hour before its first signature.
      expect(firstPublished.has(kid)).toBe(true);
      if (signers.length > 1) expect(now - firstPublished.get(kid)!).toBeGreaterThanOrEqual(1800_000);
      // The token signed just before the switch still verifies.
      if (previous) await expect(as.verifier.verifyAccessToken(previous)).resolves.toMatchObject({ clientId: 'c' });
    }
    previous = token;
  }
  expect(signers.length).toBeGreaterThanOrEqual(3);
  await as.close();
});

test('after a quiet spell past the rotation time, the old key signs on until the next one has been published long enough', async () => {
  const start = Date.now();
  let now = start;
  const rotation = 4 * 3600;
  const as = authorizationServer(rotation, () => now);
  const sign = await seedGrant(as, start);
  const first = decodeProtectedHeader(await sign()).kid!;
  // Nobody signs or fetches the JWKS for two rotation periods: nothing could publish the next key
  // ahead of time. The next signature must still not use a key no resource server has seen.
  now = start + 2 * rotation * 1000;
  const afterQuiet = decodeProtectedHeader(await sign()).kid!;
  expect(afterQuiet).toBe(first);
  const published = (await as.internals.signingKeys.jwks()).keys.map((k) => k.kid);
  expect(published).toContain(first);
  expect(published.length).toBe(2);
  const next = published.find((k) => k !== first)!;
  // Once the next key has been in the JWKS for the publish-ahead period, it takes over.
  now += 3600_000 + 1000;
  expect(decodeProtectedHeader(await sign()).kid).toBe(next);
  await as.close();
});
