import { OAuthErrorCode } from '../oauthError.js';
import { createAuthServerFetch, type Fetch } from './authServerFetch.js';
import { createIntrospectionVerifier } from './introspectionVerifier.js';

const ISSUER = 'https://as.example.com';
const RESOURCE = 'https://mcp.example.com/mcp';
const ENDPOINT = `${ISSUER}/introspect`;

function harness(
  answer: (token: string) => Record<string, unknown>,
  opts: { cacheMax?: number; negative?: number } = {},
) {
  let t = 1_700_000_000_000;
  const calls: { token: string; auth: string | null }[] = [];
  const fetch: Fetch = async (_u, init) => {
    const token = new URLSearchParams(String(init?.body)).get('token')!;
    calls.push({ token, auth: new Headers(init?.headers).get('authorization') });
    await Promise.resolve();
    return new Response(JSON.stringify(answer(token)), { headers: { 'content-type': 'application/json' } });
  };
  const now = () => t;
  const verifier = createIntrospectionVerifier({
    issuer: ISSUER,
    discover: async () => ({ issuer: ISSUER }),
    fetchAs: createAuthServerFetch({ issuer: ISSUER, timeoutMs: 1000, retryAfterSeconds: 0, fetch, now }),
    endpoint: ENDPOINT,
    clientId: 'rs id',
    clientSecret: 's:ecret',
    authMethod: 'client_secret_basic',
    audiences: [RESOURCE],
    clockSkewSeconds: 0,
    cacheMax: opts.cacheMax ?? 100,
    cacheTtlSeconds: 60,
    negativeCacheSeconds: opts.negative ?? 5,
    mapping: { userIdClaim: 'sub', resource: RESOURCE },
    now,
  });
  return { verifier, calls, advance: (ms: number) => (t += ms), nowSeconds: () => Math.floor(t / 1000) };
}

const active = (exp: number, extra: Record<string, unknown> = {}) => ({
  active: true,
  sub: 'alice',
  aud: RESOURCE,
  iss: ISSUER,
  exp,
  scope: 'a b',
  client_id: 'c',
  ...extra,
});

test('authenticates with form-urlencoded client credentials in HTTP Basic (RFC 6749 §2.3.1)', async () => {
  const h = harness(() => active(h.nowSeconds() + 300));
  const info = await h.verifier.verifyAccessToken('tok');
  expect(info).toMatchObject({ clientId: 'c', scopes: ['a', 'b'], token: '', extra: { userId: 'alice' } });
  expect(h.calls[0]!.auth).toBe(`Basic ${Buffer.from('rs%20id:s%3Aecret').toString('base64')}`);
});

test('concurrent requests with one uncached token share one introspection call', async () => {
  const h = harness(() => active(h.nowSeconds() + 300));
  await Promise.all(Array.from({ length: 5 }, () => h.verifier.verifyAccessToken('tok')));
  expect(h.calls).toHaveLength(1);
});

test('a cached active result is not used past the token exp', async () => {
  const h = harness(() => active(h.nowSeconds() + 10));
  await h.verifier.verifyAccessToken('tok');
  h.advance(11_000);
  await expect(h.verifier.verifyAccessToken('tok')).rejects.toThrow('token expired');
});

test('inactive results are cached only briefly; with 0 they are not cached at all', async () => {
  const brief = harness(() => ({ active: false }));
  for (let i = 0; i < 3; i++)
    await expect(brief.verifier.verifyAccessToken('bad')).rejects.toMatchObject({ code: OAuthErrorCode.InvalidToken });
  expect(brief.calls).toHaveLength(1);
  const never = harness(() => ({ active: false }), { negative: 0 });
  for (let i = 0; i < 3; i++)
    await expect(never.verifier.verifyAccessToken('bad')).rejects.toMatchObject({ code: OAuthErrorCode.InvalidToken });
  expect(never.calls).toHaveLength(3);
});

test('the cache is bounded (LRU)', async () => {
  const h = harness(() => active(h.nowSeconds() + 300), { cacheMax: 2 });
  for (const t of ['t1', 't2', 't3']) await h.verifier.verifyAccessToken(t);
  await h.verifier.verifyAccessToken('t3');
  await h.verifier.verifyAccessToken('t1'); // evicted by t3
  expect(h.calls.map((c) => c.token)).toEqual(['t1', 't2', 't3', 't1']);
});

test.each([
  ['no audience', { aud: undefined }, 'token audience is not this resource'],
  ['another audience', { aud: ['https://other.example.com'] }, 'token audience is not this resource'],
  ['another issuer', { iss: 'https://evil.example.com' }, 'token issued by another issuer'],
  ['no exp', { exp: undefined }, 'token has no expiration time'],
  ['not yet valid', { nbf: 9_999_999_999 }, 'token not yet valid'],
  ['a refresh token', { token_type: 'refresh_token' }, 'refresh tokens are not access tokens'],
  ['no user id', { sub: undefined }, 'token carries no sub claim'],
])('refuses %s', async (_name, patch, message) => {
  const h = harness(() => ({ ...active(h.nowSeconds() + 300), ...patch }));
  await expect(h.verifier.verifyAccessToken('tok')).rejects.toThrow(message);
});
