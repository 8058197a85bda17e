import { createAuthServerFetch, type Fetch } from './authServerFetch.js';
import { cachedDiscovery, discoverAuthorizationServer, metadataUrls } from './discovery.js';
import { AuthServerUnavailableError } from './errors.js';

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

function fetcherFor(issuer: string, docs: Record<string, Response | (() => Response)>) {
  const seen: string[] = [];
  const fetch: Fetch = async (input) => {
    const u = String(input);
    seen.push(u);
    const d = docs[u];
    return typeof d === 'function' ? d() : (d ?? new Response('', { status: 404 }));
  };
  return { fetchAs: createAuthServerFetch({ issuer, timeoutMs: 1000, retryAfterSeconds: 0, fetch }), seen };
}

test('metadata URLs: OIDC appends to the issuer path (Keycloak realms), RFC 8414 inserts before it', () => {
  expect(metadataUrls('https://kc.example.com/realms/acme')).toEqual([
    'https://kc.example.com/realms/acme/.well-known/openid-configuration',
    'https://kc.example.com/.well-known/oauth-authorization-server/realms/acme',
  ]);
  expect(metadataUrls('https://tenant.auth0.com/')).toEqual([
    'https://tenant.auth0.com/.well-known/openid-configuration',
    'https://tenant.auth0.com/.well-known/oauth-authorization-server',
  ]);
});

test('OIDC discovery first, RFC 8414 as the fallback', async () => {
  const issuer = 'https://as.example.com';
  const { fetchAs, seen } = fetcherFor(issuer, {
    'https://as.example.com/.well-known/oauth-authorization-server': json({ issuer, jwks_uri: `${issuer}/jwks` }),
  });
  const meta = await discoverAuthorizationServer(issuer, fetchAs);
  expect(meta.jwks_uri).toBe(`${issuer}/jwks`);
  expect(seen).toEqual([
    `${issuer}/.well-known/openid-configuration`,
    `${issuer}/.well-known/oauth-authorization-server`,
  ]);
});

test('a document naming another issuer is refused (RFC 8414 §3.3)', async () => {
  const issuer = 'https://as.example.com';
  const { fetchAs } = fetcherFor(issuer, {
    [`${issuer}/.well-known/openid-configuration`]: json({
      issuer: 'https://evil.example.com',
      jwks_uri: 'https://evil.example.com/jwks',
    }),
  });
  await expect(discoverAuthorizationServer(issuer, fetchAs)).rejects.toThrow(/does not match/);
});

test('one trailing slash is not significant (Auth0 issuers end in /)', async () => {
  const issuer = 'https://tenant.auth0.com';
  const { fetchAs } = fetcherFor(issuer, {
    [`${issuer}/.well-known/openid-configuration`]: json({
      issuer: `${issuer}/`,
      jwks_uri: `${issuer}/.well-known/jwks.json`,
    }),
  });
  expect((await discoverAuthorizationServer(issuer, fetchAs)).issuer).toBe(`${issuer}/`);
});

test('cachedDiscovery shares one request between concurrent callers, keeps success, retries failure', async () => {
  const issuer = 'https://as.example.com';
  let up = false;
  const { fetchAs, seen } = fetcherFor(issuer, {
    [`${issuer}/.well-known/openid-configuration`]: () =>
      up ? json({ issuer, jwks_uri: `${issuer}/jwks` }) : new Response('', { status: 503 }),
  });
  const discover = cachedDiscovery(issuer, fetchAs);
  await expect(discover()).rejects.toBeInstanceOf(AuthServerUnavailableError);
  up = true;
  const [a, b] = await Promise.all([discover(), discover()]);
  expect(a).toBe(b);
  await discover();
  expect(seen).toHaveLength(2);
});
