/**
 * The integrated authorization server end to end over HTTP, on two instances sharing a real Redis
 * behind a round-robin "balancer" (a fetch that sends each request to the next instance), so no
 * step may rely on in-process state. Every negative case asserts the exact OAuth error.
 */
import express from 'express';
import { Redis } from 'ioredis';
import { createHash, randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pkceChallenge from 'pkce-challenge';
import { createLogger } from '../../observability/logger.js';
import { createKeyspace } from '../../redis/keys.js';
import { bearerAuth } from '../bearer.js';
import {
  protectedResourceMetadataRouter,
  protectedResourceMetadataUrl,
} from '../separate/protectedResourceMetadata.js';
import { authorizeByForms, FormLoginError } from '../testing/formLogin.js';
import { userIdOf } from '../types.js';
import { createAuthorizationServer, type AuthorizationServer } from './authorizationServer.js';
import { ClientMetadataFetchError, createGuardedClientMetadataFetcher } from './cimd/fetchClientMetadata.js';
import { REFRESH_RACE_GRACE_MS } from './stores/grants.js';

const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const ISSUER = 'http://localhost:3232';
const MCP = `${ISSUER}/mcp`;
/** A second resource the same AS serves: its tokens must not open /mcp. */
const OTHER = `${ISSUER}/other`;
const REDIRECT = 'http://127.0.0.1:6276/oauth/callback';
const CIMD_ID = 'https://client.example/mcp-client.json';

const prefix = `t${randomBytes(5).toString('hex')}`;
const keys = createKeyspace(prefix);
const log = createLogger('silent');
let clockOffsetMs = 0;
const documents = new Map<string, unknown>();
const cacheControl = new Map<string, string>();
const failing = new Set<string>();
const fetchCount = new Map<string, number>();
const guarded = createGuardedClientMetadataFetcher();

interface Instance {
  as: AuthorizationServer;
  redis: Redis;
  http: Server;
  url: string;
}
const instances: Instance[] = [];
const inspect = new Redis(REDIS_URL);

async function startInstance(): Promise<Instance> {
  const redis = new Redis(REDIS_URL);
  const as = createAuthorizationServer({
    issuer: ISSUER,
    resources: [MCP, OTHER],
    scopes: ['mcp', 'extra'],
    redis,
    keys,
    log,
    rateLimit: { multiplier: 1000, store: 'redis' },
    introspectionClients: [{ clientId: 'rs', clientSecret: 'rs-secret', resources: [MCP] }],
    fetchClientMetadata: async (url) => {
      fetchCount.set(url.href, (fetchCount.get(url.href) ?? 0) + 1);
      if (failing.has(url.href))
        throw new ClientMetadataFetchError('client metadata URL answered HTTP 500 (redirects are not followed)');
      if (!documents.has(url.href)) return guarded.fetch(url);
      return { document: documents.get(url.href), cacheControl: cacheControl.get(url.href) };
    },
    clock: () => Date.now() + clockOffsetMs,
  });
  const app = express();
  app.use(
    protectedResourceMetadataRouter({ resource: MCP, authorizationServer: ISSUER, scopesSupported: ['mcp', 'extra'] }),
  );
  app.use(as.router);
  app.all(
    '/mcp',
    bearerAuth({
      verifier: as.verifierFor([MCP]),
      resourceMetadataUrl: protectedResourceMetadataUrl(MCP),
      requiredScopes: ['mcp'],
    }),
    (req, res) => {
      res.json({ userId: userIdOf(req.auth), scopes: req.auth?.scopes });
    },
  );
  const http = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return { as, redis, http, url: `http://127.0.0.1:${(http.address() as AddressInfo).port}` };
}

/** Round-robin balancer: each request to the issuer origin goes to the next instance. */
let rr = 0;
const balanced: typeof fetch = (input, init) => {
  const url = new URL(input instanceof Request ? input.url : String(input));
  if (url.origin === ISSUER) {
    const target = new URL(instances[rr++ % instances.length]!.url);
    url.protocol = target.protocol;
    url.host = target.host;
  }
  return fetch(url, init);
};

beforeAll(async () => {
  instances.push(await startInstance(), await startInstance());
});

afterAll(async () => {
  for (const i of instances) {
    await new Promise((r) => i.http.close(r));
    await i.as.close();
    i.redis.disconnect();
  }
  await guarded.close();
  const left = await inspect.keys(`${prefix}:*`);
  if (left.length) await inspect.del(...left);
  inspect.disconnect();
});

afterEach(() => {
  clockOffsetMs = 0;
});

// ---------------------------------------------------------------- helpers

async function register(meta: Record<string, unknown> = {}) {
  const res = await balanced(`${ISSUER}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_name: 'Test <b>client</b>',
      redirect_uris: [REDIRECT],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      ...meta,
    }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function publicClient(): Promise<string> {
  const r = await register();
  expect(r.status).toBe(201);
  return r.body['client_id'] as string;
}

function authorizeUrl(params: Record<string, string | undefined>): URL {
  const u = new URL(`${ISSUER}/authorize`);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) u.searchParams.set(k, v);
  return u;
}

async function startParams(clientId: string, extra: Record<string, string | undefined> = {}) {
  const pkce = await pkceChallenge();
  const params = {
    response_type: 'code',
    client_id: clientId,
    redirect_uri: REDIRECT,
    code_challenge: pkce.code_challenge,
    code_challenge_method: 'S256',
    state: 'st-' + randomBytes(4).toString('hex'),
    resource: MCP,
    ...extra,
  };
  return { pkce, params };
}

async function authorize(clientId: string, opts: { userId?: string; extra?: Record<string, string | undefined> } = {}) {
  const { pkce, params } = await startParams(clientId, opts.extra);
  const back = await authorizeByForms(authorizeUrl(params), { userId: opts.userId ?? 'alice', fetch: balanced });
  return { back, pkce, params, code: back.searchParams.get('code') };
}

async function token(fields: Record<string, string | undefined>, headers: Record<string, string> = {}) {
  const body = new URLSearchParams();
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) body.set(k, v);
  const res = await balanced(`${ISSUER}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body,
  });
  return { status: res.status, body: (await res.json()) as Record<string, string>, headers: res.headers };
}

async function tokensFor(clientId: string, userId = 'alice') {
  const a = await authorize(clientId, { userId });
  const t = await token({
    grant_type: 'authorization_code',
    client_id: clientId,
    code: a.code!,
    code_verifier: a.pkce.code_verifier,
    redirect_uri: REDIRECT,
    resource: MCP,
  });
  expect(t.status).toBe(200);
  return { ...a, access: t.body['access_token']!, refresh: t.body['refresh_token']!, body: t.body };
}

async function mcp(accessToken?: string) {
  const res = await balanced(`${ISSUER}/mcp`, {
    headers: accessToken ? { authorization: `Bearer ${accessToken}` } : {},
  });
  const text = await res.text();
  return {
    status: res.status,
    body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
    www: res.headers.get('www-authenticate'),
  };
}

async function revoke(clientId: string, tok: string) {
  const res = await balanced(`${ISSUER}/revoke`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: clientId, token: tok }),
  });
  return res.status;
}

// ---------------------------------------------------------------- discovery

describe('discovery', () => {
  test('AS metadata advertises exactly what is implemented', async () => {
    const m = (await (await balanced(`${ISSUER}/.well-known/oauth-authorization-server`)).json()) as Record<
      string,
      unknown
    >;
    expect(m).toMatchObject({
      issuer: ISSUER,
      authorization_endpoint: `${ISSUER}/authorize`,
      token_endpoint: `${ISSUER}/token`,
      registration_endpoint: `${ISSUER}/register`,
      revocation_endpoint: `${ISSUER}/revoke`,
      introspection_endpoint: `${ISSUER}/introspect`,
      jwks_uri: `${ISSUER}/.well-known/jwks.json`,
      code_challenge_methods_supported: ['S256'],
      grant_types_supported: ['authorization_code', 'refresh_token'],
      response_types_supported: ['code'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
      authorization_response_iss_parameter_supported: true,
      client_id_metadata_document_supported: true,
      scopes_supported: ['mcp', 'extra'],
    });
  });

  test('PRM at the path-suffixed and root well-known URIs', async () => {
    for (const path of ['/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-protected-resource']) {
      const prm = (await (await balanced(`${ISSUER}${path}`)).json()) as Record<string, unknown>;
      expect(prm).toMatchObject({
        resource: MCP,
        authorization_servers: [ISSUER],
        bearer_methods_supported: ['header'],
      });
    }
  });

  test('401 without a token carries resource_metadata and scope but no error code (RFC 6750 §3.1)', async () => {
    const r = await mcp();
    expect(r.status).toBe(401);
    expect(r.www).toBe(`Bearer scope="mcp", resource_metadata="${ISSUER}/.well-known/oauth-protected-resource/mcp"`);
  });

  test('JWKS publishes the shared signing key once both instances signed', async () => {
    const client = await publicClient();
    await tokensFor(client);
    await tokensFor(client);
    const jwks = (await (await balanced(`${ISSUER}/.well-known/jwks.json`)).json()) as {
      keys: Array<Record<string, unknown>>;
    };
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    expect(jwks.keys[0]!['d']).toBeUndefined();
  });
});

// ---------------------------------------------------------------- registration

describe('dynamic client registration', () => {
  test('confidential client: secret returned once, stored only as a hash; Basic and post both authenticate', async () => {
    const r = await register({ token_endpoint_auth_method: 'client_secret_basic' });
    expect(r.status).toBe(201);
    const id = r.body['client_id'] as string;
    const secret = r.body['client_secret'] as string;
    expect(secret).toMatch(/^[0-9a-f]{64}$/);
    expect(r.body['client_secret_expires_at']).toBeGreaterThan(Date.now() / 1000);
    const stored = (await inspect.get(keys.oauth('client', id)))!;
    expect(stored).not.toContain(secret);
    expect(await inspect.ttl(keys.oauth('client', id))).toBeGreaterThan(0);

    const a = await authorize(id);
    const basic = 'Basic ' + Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64');
    const t = await token(
      { grant_type: 'authorization_code', code: a.code!, code_verifier: a.pkce.code_verifier, redirect_uri: REDIRECT },
      { authorization: basic },
    );
    expect(t.status).toBe(200);
    const refreshed = await token({
      grant_type: 'refresh_token',
      refresh_token: t.body['refresh_token'],
      client_id: id,
      client_secret: secret,
    });
    expect(refreshed.status).toBe(200);
    const wrong = await token({
      grant_type: 'refresh_token',
      refresh_token: refreshed.body['refresh_token'],
      client_id: id,
      client_secret: 'nope',
    });
    expect(wrong.status).toBe(401);
    expect(wrong.body['error']).toBe('invalid_client');
  });

  test('redirect URIs must be https or loopback', async () => {
    const r = await register({ redirect_uris: ['http://evil.example/cb'] });
    expect(r.status).toBe(400);
    expect(r.body['error']).toBe('invalid_redirect_uri');
  });

  test('unsupported auth method is refused', async () => {
    const r = await register({ token_endpoint_auth_method: 'private_key_jwt' });
    expect(r.status).toBe(400);
    expect(r.body['error']).toBe('invalid_client_metadata');
  });
});

// ---------------------------------------------------------------- the happy path

describe('authorization code flow', () => {
  test('code → token → /mcp as the chosen user; iss and state in the response; refresh rotates', async () => {
    const client = await publicClient();
    const t = await tokensFor(client, 'carol');
    expect(t.back.origin + t.back.pathname).toBe(REDIRECT);
    expect(t.back.searchParams.get('state')).toBe(t.params.state);
    expect(t.back.searchParams.get('iss')).toBe(ISSUER);
    expect(t.body).toMatchObject({ token_type: 'Bearer', expires_in: 3600, scope: 'mcp extra' });
    expect(await mcp(t.access)).toMatchObject({ status: 200, body: { userId: 'carol', scopes: ['mcp', 'extra'] } });

    const r = await token({ grant_type: 'refresh_token', client_id: client, refresh_token: t.refresh, scope: 'mcp' });
    expect(r.status).toBe(200);
    expect(r.body['refresh_token']).not.toBe(t.refresh);
    expect(r.body['scope']).toBe('mcp');
    expect(await mcp(r.body['access_token'])).toMatchObject({
      status: 200,
      body: { userId: 'carol', scopes: ['mcp'] },
    });
  });

  test('deny on the consent page → access_denied with state and iss', async () => {
    const client = await publicClient();
    const { params } = await startParams(client);
    const back = await authorizeByForms(authorizeUrl(params), { userId: 'alice', decision: 'deny', fetch: balanced });
    expect(back.searchParams.get('error')).toBe('access_denied');
    expect(back.searchParams.get('state')).toBe(params.state);
    expect(back.searchParams.get('iss')).toBe(ISSUER);
  });

  test('every Redis key the flow wrote has a TTL', async () => {
    const client = await publicClient();
    await tokensFor(client);
    const all = await inspect.keys(`${prefix}:*`);
    expect(all.length).toBeGreaterThan(5);
    const withoutTtl = [];
    for (const k of all) if ((await inspect.pttl(k)) < 0) withoutTtl.push(k);
    expect(withoutTtl).toEqual([]);
  });
});

// ---------------------------------------------------------------- the login and consent pages

describe('interaction pages', () => {
  async function consentPage(clientName: string) {
    const r = await register({ client_name: clientName });
    const { params } = await startParams(r.body['client_id'] as string);
    const jar: string[] = [];
    const first = await balanced(authorizeUrl(params), { redirect: 'manual' });
    jar.push(...first.headers.getSetCookie().map((c) => c.split(';')[0]!));
    const login = new URL(first.headers.get('location')!, ISSUER);
    const loginPage = await balanced(login, { headers: { cookie: jar.join('; ') } });
    const html = await loginPage.text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(html)![1]!;
    const flow = login.searchParams.get('flow')!;
    const posted = await balanced(`${ISSUER}/oauth/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: jar.join('; ') },
      body: new URLSearchParams({ flow, csrf, user_id: 'dave' }),
    });
    const consent = await balanced(new URL(posted.headers.get('location')!, ISSUER), {
      headers: { cookie: jar.join('; ') },
    });
    return { loginPage, consent, html: await consent.text(), flow, csrf, jar };
  }

  test('pages escape what they echo, carry a script-free CSP and forbid framing', async () => {
    const { loginPage, consent, html } = await consentPage('<script>alert(1)</script>');
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('127.0.0.1:6276'); // redirect host is named
    for (const res of [loginPage, consent]) {
      const csp = res.headers.get('content-security-policy')!;
      expect(csp).toContain("script-src 'none'");
      expect(csp).not.toContain('unsafe-inline');
      expect(csp).toContain("frame-ancestors 'none'");
      expect(res.headers.get('x-frame-options')).toBe('DENY');
    }
  });

  test('consent POST without the flow cookie or with a wrong CSRF token is refused', async () => {
    const { flow, csrf, jar } = await consentPage('x');
    const post = (fields: Record<string, string>, cookie?: string) =>
      balanced(`${ISSUER}/oauth/consent`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...(cookie ? { cookie } : {}) },
        body: new URLSearchParams(fields),
      });
    const noCookie = await post({ flow, csrf, decision: 'approve' });
    expect(noCookie.status).toBe(400);
    expect(await noCookie.text()).toContain('CSRF check failed');
    const wrongToken = await post({ flow, csrf: 'x'.repeat(43), decision: 'approve' }, jar.join('; '));
    expect(wrongToken.status).toBe(400);
    // The real form still works afterwards.
    const ok = await post({ flow, csrf, decision: 'approve' }, jar.join('; '));
    expect(ok.status).toBe(303);
    expect(new URL(ok.headers.get('location')!).searchParams.get('code')).toBeTruthy();
  });
});

// ---------------------------------------------------------------- negatives

describe('authorization request errors', () => {
  test('plain PKCE → invalid_request on our page (nobody signed in yet: no redirect)', async () => {
    const client = await publicClient();
    const { params } = await startParams(client, { code_challenge_method: 'plain' });
    const err = await authorizeByForms(authorizeUrl(params), { userId: 'alice', fetch: balanced }).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({
      status: 400,
      errorCode: 'invalid_request',
      message: 'code_challenge_method must be S256',
    });
  });

  test('missing PKCE → invalid_request', async () => {
    const client = await publicClient();
    const { params } = await startParams(client, { code_challenge: undefined, code_challenge_method: undefined });
    const err = await authorizeByForms(authorizeUrl(params), { userId: 'alice', fetch: balanced }).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({
      status: 400,
      errorCode: 'invalid_request',
      message: 'code_challenge is required (PKCE, OAuth 2.1 §4.1.1)',
    });
  });

  test('resource naming another server → invalid_target', async () => {
    const client = await publicClient();
    const { params } = await startParams(client, { resource: 'https://elsewhere.example/mcp' });
    const err = await authorizeByForms(authorizeUrl(params), { userId: 'alice', fetch: balanced }).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ status: 400, errorCode: 'invalid_target' });
  });

  test('redirect URI mismatch → local error page, never a redirect', async () => {
    const client = await publicClient();
    const { params } = await startParams(client, { redirect_uri: 'https://attacker.example/cb' });
    const err = await authorizeByForms(authorizeUrl(params), { userId: 'alice', fetch: balanced }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(FormLoginError);
    expect(err).toMatchObject({
      status: 400,
      errorCode: 'invalid_request',
      message: 'redirect_uri does not match any registered redirect URI',
    });
  });

  test('loopback redirect URI may change port (RFC 8252 §7.3)', async () => {
    const client = await publicClient();
    const { params } = await startParams(client, { redirect_uri: 'http://127.0.0.1:9999/oauth/callback' });
    const back = await authorizeByForms(authorizeUrl(params), { userId: 'alice', fetch: balanced });
    expect(back.port).toBe('9999');
    expect(back.searchParams.get('code')).toBeTruthy();
  });

  test('unregistered client → local error page (invalid_client); /token → 401 invalid_client', async () => {
    const { params } = await startParams('no-such-client');
    const err = await authorizeByForms(authorizeUrl(params), { userId: 'alice', fetch: balanced }).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ status: 401, errorCode: 'invalid_client' });
    const t = await token({
      grant_type: 'authorization_code',
      client_id: 'no-such-client',
      code: 'x',
      code_verifier: 'a'.repeat(43),
    });
    expect(t.status).toBe(401);
    expect(t.body).toEqual({ error: 'invalid_client', error_description: 'unknown client' });
  });
});

describe('token endpoint errors', () => {
  test('wrong PKCE verifier → invalid_grant', async () => {
    const client = await publicClient();
    const a = await authorize(client);
    const t = await token({
      grant_type: 'authorization_code',
      client_id: client,
      code: a.code!,
      code_verifier: 'w'.repeat(43),
      redirect_uri: REDIRECT,
    });
    expect(t.status).toBe(400);
    expect(t.body).toEqual({
      error: 'invalid_grant',
      error_description: 'code_verifier does not match the code_challenge',
    });
  });

  test('redirect_uri differing from the authorization request → invalid_grant', async () => {
    const client = await publicClient();
    const a = await authorize(client);
    const t = await token({
      grant_type: 'authorization_code',
      client_id: client,
      code: a.code!,
      code_verifier: a.pkce.code_verifier,
      redirect_uri: 'http://127.0.0.1:6276/other',
    });
    expect(t.body).toEqual({
      error: 'invalid_grant',
      error_description: 'redirect_uri does not match the authorization request',
    });
  });

  test('code replay → invalid_grant and the tokens from the first use are revoked', async () => {
    const client = await publicClient();
    const t = await tokensFor(client);
    expect((await mcp(t.access)).status).toBe(200);
    const replay = await token({
      grant_type: 'authorization_code',
      client_id: client,
      code: t.code!,
      code_verifier: t.pkce.code_verifier,
      redirect_uri: REDIRECT,
    });
    expect(replay.status).toBe(400);
    expect(replay.body).toEqual({
      error: 'invalid_grant',
      error_description: 'authorization code was already used; tokens issued from it are revoked',
    });
    const after = await mcp(t.access);
    expect(after.status).toBe(401);
    expect(after.body['error_description']).toBe('token has been revoked');
    const r = await token({ grant_type: 'refresh_token', client_id: client, refresh_token: t.refresh });
    expect(r.body['error']).toBe('invalid_grant');
  });

  test('code of another client → invalid_grant', async () => {
    const a = await authorize(await publicClient());
    const other = await publicClient();
    const t = await token({
      grant_type: 'authorization_code',
      client_id: other,
      code: a.code!,
      code_verifier: a.pkce.code_verifier,
      redirect_uri: REDIRECT,
    });
    expect(t.body).toEqual({
      error: 'invalid_grant',
      error_description: 'authorization code was issued to another client',
    });
  });

  test('concurrent refreshes with one token (several requests met the expired access token): one successor, the grant lives', async () => {
    const client = await publicClient();
    const t = await tokensFor(client);
    const refresh = () => token({ grant_type: 'refresh_token', client_id: client, refresh_token: t.refresh });
    const racing = await Promise.all([refresh(), refresh(), refresh()]);
    // One more, after the rotation completed, still within the grace.
    const late = await refresh();
    const all = [...racing, late];
    expect(all.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    const successors = new Set(all.map((r) => r.body['refresh_token']));
    expect(successors.size).toBe(1);
    expect(successors.has(t.refresh)).toBe(false);
    for (const r of all) expect((await mcp(r.body['access_token'])).status).not.toBe(401);
    // The successor rotates on as usual, and then the first token is reuse like any other.
    const next = await token({
      grant_type: 'refresh_token',
      client_id: client,
      refresh_token: late.body['refresh_token'],
    });
    expect(next.status).toBe(200);
    expect((await refresh()).body['error']).toBe('invalid_grant');
  });

  test('refresh token reuse → invalid_grant and the whole grant is revoked', async () => {
    const client = await publicClient();
    const t = await tokensFor(client);
    const first = await token({ grant_type: 'refresh_token', client_id: client, refresh_token: t.refresh });
    expect(first.status).toBe(200);
    // Past the grace for concurrent refreshes (next test).
    clockOffsetMs = REFRESH_RACE_GRACE_MS + 1000;
    const reuse = await token({ grant_type: 'refresh_token', client_id: client, refresh_token: t.refresh });
    expect(reuse.body).toEqual({
      error: 'invalid_grant',
      error_description: 'refresh token was already used; the grant is revoked',
    });
    expect((await mcp(first.body['access_token'])).status).toBe(401);
    const next = await token({
      grant_type: 'refresh_token',
      client_id: client,
      refresh_token: first.body['refresh_token'],
    });
    expect(next.body['error']).toBe('invalid_grant');
  });

  test('refresh asking for more scope than granted → invalid_scope, token stays usable', async () => {
    const client = await publicClient();
    const a = await authorize(client, { extra: { scope: 'mcp' } });
    const t = await token({
      grant_type: 'authorization_code',
      client_id: client,
      code: a.code!,
      code_verifier: a.pkce.code_verifier,
      redirect_uri: REDIRECT,
    });
    const wider = await token({
      grant_type: 'refresh_token',
      client_id: client,
      refresh_token: t.body['refresh_token'],
      scope: 'mcp extra',
    });
    expect(wider.body).toEqual({ error: 'invalid_scope', error_description: 'scope exceeds the grant: extra' });
    const ok = await token({ grant_type: 'refresh_token', client_id: client, refresh_token: t.body['refresh_token'] });
    expect(ok.status).toBe(200);
  });

  test('unsupported grant type and malformed requests are RFC 6749 errors, not 500', async () => {
    const client = await publicClient();
    expect((await token({ grant_type: 'client_credentials', client_id: client })).body['error']).toBe(
      'unsupported_grant_type',
    );
    expect((await token({ grant_type: 'authorization_code', client_id: client })).body).toEqual({
      error: 'invalid_request',
      error_description: 'code is required',
    });
    expect(
      (await token({ grant_type: 'refresh_token', client_id: client, refresh_token: 'bogus' })).body['error'],
    ).toBe('invalid_grant');
  });
});

describe('resource server checks', () => {
  test('token for another audience → 401', async () => {
    const client = await publicClient();
    const a = await authorize(client, { extra: { resource: OTHER } });
    const t = await token({
      grant_type: 'authorization_code',
      client_id: client,
      code: a.code!,
      code_verifier: a.pkce.code_verifier,
      redirect_uri: REDIRECT,
    });
    expect(t.status).toBe(200);
    const r = await mcp(t.body['access_token']);
    expect(r.status).toBe(401);
    expect(r.www).toContain('error="invalid_token", error_description="token was not issued for this resource"');
  });

  test('expired token → 401', async () => {
    const client = await publicClient();
    const t = await tokensFor(client);
    // Used once first, so the verifier's cache of verified tokens is what must refuse it later.
    expect((await mcp(t.access)).status).not.toBe(401);
    clockOffsetMs = 3601_000;
    const r = await mcp(t.access);
    expect(r.status).toBe(401);
    expect(r.body['error_description']).toBe('token has expired');
  });

  test('revoked access token → 401; revocation of an unknown token is still 200', async () => {
    const client = await publicClient();
    const t = await tokensFor(client);
    expect((await mcp(t.access)).status).not.toBe(401);
    expect(await revoke(client, 'not-a-token')).toBe(200);
    expect(await revoke(client, t.access)).toBe(200);
    const r = await mcp(t.access);
    expect(r.status).toBe(401);
    expect(r.body['error_description']).toBe('token has been revoked');
  });

  test('revoking a refresh token kills the grant; another client cannot revoke it', async () => {
    const client = await publicClient();
    const t = await tokensFor(client);
    expect(await revoke(await publicClient(), t.refresh)).toBe(200);
    expect((await mcp(t.access)).status).toBe(200);
    expect(await revoke(client, t.refresh)).toBe(200);
    expect((await mcp(t.access)).status).toBe(401);
  });

  test('missing required scope → 403 insufficient_scope', async () => {
    const client = await publicClient();
    const a = await authorize(client, { extra: { scope: 'extra' } });
    const t = await token({
      grant_type: 'authorization_code',
      client_id: client,
      code: a.code!,
      code_verifier: a.pkce.code_verifier,
      redirect_uri: REDIRECT,
    });
    const r = await mcp(t.body['access_token']);
    expect(r.status).toBe(403);
    expect(r.www).toContain('error="insufficient_scope"');
    expect(r.www).toContain('scope="mcp"');
  });

  test('introspection: resource servers only; active and inactive answers', async () => {
    const client = await publicClient();
    const t = await tokensFor(client, 'erin');
    const introspect = (tok: string, auth?: string) =>
      balanced(`${ISSUER}/introspect`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...(auth ? { authorization: auth } : {}) },
        body: new URLSearchParams({ token: tok }),
      });
    const basic = 'Basic ' + Buffer.from('rs:rs-secret').toString('base64');
    const anon = await introspect(t.access);
    expect(anon.status).toBe(401);
    expect(anon.headers.get('www-authenticate')).toBeNull();
    const wrong = await introspect(t.access, 'Basic ' + Buffer.from('rs:nope').toString('base64'));
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toContain('Basic');
    expect(await (await introspect(t.access, basic)).json()).toMatchObject({
      active: true,
      sub: 'erin',
      client_id: client,
      aud: MCP,
      scope: 'mcp extra',
    });
    expect(await (await introspect(t.refresh, basic)).json()).toMatchObject({
      active: true,
      token_type: 'refresh_token',
      sub: 'erin',
    });
    await revoke(client, t.access);
    expect(await (await introspect(t.access, basic)).json()).toEqual({ active: false });
  });
});

describe('client ID metadata documents', () => {
  test('a valid document works as a public client and the consent page says so', async () => {
    documents.set(CIMD_ID, {
      client_id: CIMD_ID,
      client_name: 'CIMD app',
      redirect_uris: [REDIRECT],
      grant_types: ['authorization_code', 'refresh_token'],
    });
    const t = await tokensFor(CIMD_ID, 'frank');
    expect(await mcp(t.access)).toMatchObject({ status: 200, body: { userId: 'frank' } });
  });

  test('document whose client_id differs from its URL → invalid_client page', async () => {
    const id = 'https://client.example/impostor.json';
    documents.set(id, {
      client_id: 'https://client.example/someone-else.json',
      client_name: 'x',
      redirect_uris: [REDIRECT],
    });
    const { params } = await startParams(id);
    const err = await authorizeByForms(authorizeUrl(params), { userId: 'alice', fetch: balanced }).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({
      status: 401,
      errorCode: 'invalid_client',
      message: 'client metadata document client_id does not match its URL',
    });
  });

  test('redirect URI not in the document → refused', async () => {
    const id = 'https://client.example/narrow.json';
    documents.set(id, { client_id: id, client_name: 'x', redirect_uris: ['https://app.example/cb'] });
    const { params } = await startParams(id);
    const err = await authorizeByForms(authorizeUrl(params), { userId: 'alice', fetch: balanced }).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ status: 400, message: 'redirect_uri does not match any registered redirect URI' });
  });

  test.each([
    ['https://127.0.0.1/client.json', 'client metadata URL points at a forbidden address (loopback)'],
    ['https://169.254.169.254/latest/meta-data.json', 'client metadata URL points at a forbidden address (linkLocal)'],
    ['https://[::1]/client.json', 'client metadata URL points at a forbidden address (loopback)'],
  ])('CIMD URL %s is refused before any connection', async (id, message) => {
    const { params } = await startParams(id);
    const err = await authorizeByForms(authorizeUrl(params), { userId: 'alice', fetch: balanced }).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ status: 401, errorCode: 'invalid_client', message });
  });
});

// ---------------------------------------------------------------- security review

describe('errors before sign-in are never redirected to a dynamic client (RFC 9700 §4.11.2)', () => {
  test.each([
    ['response_type=bogus', { response_type: 'bogus' }, 'unsupported_response_type'],
    ['plain PKCE', { code_challenge_method: 'plain' }, 'invalid_request'],
    ['an unknown scope', { scope: 'nope' }, 'invalid_scope'],
    ['another server as resource', { resource: 'https://elsewhere.example/mcp' }, 'invalid_target'],
  ])('%s → our error page, no Location, for a registered and a CIMD client', async (_name, extra, code) => {
    documents.set(CIMD_ID, { client_id: CIMD_ID, client_name: 'CIMD app', redirect_uris: [REDIRECT] });
    for (const client of [await publicClient(), CIMD_ID]) {
      const { params } = await startParams(client, extra);
      const res = await balanced(authorizeUrl(params), { redirect: 'manual' });
      expect(res.status).toBe(400);
      expect(res.headers.get('location')).toBeNull();
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      expect(await res.text()).toContain(`<code>${code}</code>`);
    }
  });
});

describe('authorization code binding is checked before the code is spent', () => {
  test('another client or a wrong verifier cannot burn the code; the genuine client still redeems it', async () => {
    const client = await publicClient();
    const a = await authorize(client);
    const other = await publicClient();
    const stranger = await token({
      grant_type: 'authorization_code',
      client_id: other,
      code: a.code!,
      code_verifier: a.pkce.code_verifier,
      redirect_uri: REDIRECT,
    });
    expect(stranger.body['error']).toBe('invalid_grant');
    const guess = await token({
      grant_type: 'authorization_code',
      client_id: client,
      code: a.code!,
      code_verifier: 'g'.repeat(43),
      redirect_uri: REDIRECT,
    });
    expect(guess.body['error']).toBe('invalid_grant');
    const wrongRedirect = await token({
      grant_type: 'authorization_code',
      client_id: client,
      code: a.code!,
      code_verifier: a.pkce.code_verifier,
      redirect_uri: 'http://127.0.0.1:6276/x',
    });
    expect(wrongRedirect.body['error']).toBe('invalid_grant');
    const genuine = await token({
      grant_type: 'authorization_code',
      client_id: client,
      code: a.code!,
      code_verifier: a.pkce.code_verifier,
      redirect_uri: REDIRECT,
    });
    expect(genuine.status).toBe(200);
    expect((await mcp(genuine.body['access_token'])).status).toBe(200);
  });

  test('two concurrent genuine redemptions: one spends the code, the replay revokes whatever it produced', async () => {
    const client = await publicClient();
    const a = await authorize(client);
    const fields = {
      grant_type: 'authorization_code',
      client_id: client,
      code: a.code!,
      code_verifier: a.pkce.code_verifier,
      redirect_uri: REDIRECT,
    };
    const answers = await Promise.all([token(fields), token(fields)]);
    // The replay may revoke the grant before or after the first redemption issued its tokens.
    expect(answers.filter((t) => t.status === 200).length).toBeLessThanOrEqual(1);
    expect(answers.map((t) => t.body['error_description'])).toContain(
      'authorization code was already used; tokens issued from it are revoked',
    );
    for (const t of answers.filter((x) => x.status === 200))
      expect((await mcp(t.body['access_token'])).status).toBe(401);
  });
});

describe('refresh tokens only for clients registered for the refresh_token grant', () => {
  test('a client registered for authorization_code only gets no refresh token', async () => {
    const r = await register({ grant_types: ['authorization_code'] });
    const id = r.body['client_id'] as string;
    const a = await authorize(id);
    const t = await token({
      grant_type: 'authorization_code',
      client_id: id,
      code: a.code!,
      code_verifier: a.pkce.code_verifier,
      redirect_uri: REDIRECT,
    });
    expect(t.status).toBe(200);
    expect(t.body['refresh_token']).toBeUndefined();
    expect((await mcp(t.body['access_token'])).status).toBe(200);
  });
});

describe('introspection is limited to tokens for the calling resource server', () => {
  test('a token for another resource is inactive to rs (bound to /mcp)', async () => {
    const client = await publicClient();
    const a = await authorize(client, { extra: { resource: OTHER } });
    const t = await token({
      grant_type: 'authorization_code',
      client_id: client,
      code: a.code!,
      code_verifier: a.pkce.code_verifier,
      redirect_uri: REDIRECT,
    });
    const basic = 'Basic ' + Buffer.from('rs:rs-secret').toString('base64');
    for (const tok of [t.body['access_token']!, t.body['refresh_token']!]) {
      const res = await balanced(`${ISSUER}/introspect`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic },
        body: new URLSearchParams({ token: tok }),
      });
      expect(await res.json()).toEqual({ active: false });
    }
  });
});

describe('bounded client registration (RFC 7591)', () => {
  test('metadata this server never uses is dropped, not stored, not echoed', async () => {
    const r = await register({
      contacts: ['a@example.com'],
      jwks: { keys: [{ kty: 'oct', k: 'x'.repeat(1000) }] },
      software_statement: 'x'.repeat(1000),
      tos_uri: 'https://client.example/tos',
      scope: 'mcp',
    });
    expect(r.status).toBe(201);
    for (const field of ['contacts', 'jwks', 'software_statement', 'tos_uri']) expect(r.body[field]).toBeUndefined();
    const stored = (await inspect.get(keys.oauth('client', r.body['client_id'] as string)))!;
    expect(stored).not.toContain('software_statement');
    expect(stored.length).toBeLessThan(1024);
  });

  test.each([
    [
      'too many redirect URIs',
      { redirect_uris: Array.from({ length: 11 }, (_, i) => `http://127.0.0.1/cb${i}`) },
      'invalid_redirect_uri',
    ],
    [
      'a very long redirect URI',
      { redirect_uris: [`https://client.example/${'x'.repeat(3000)}`] },
      'invalid_redirect_uri',
    ],
    ['a very long client_name', { client_name: 'n'.repeat(500) }, 'invalid_client_metadata'],
    [
      'repeated grant types',
      { grant_types: Array.from({ length: 50 }, () => 'authorization_code') },
      'invalid_client_metadata',
    ],
  ])('%s → 400', async (_name, meta, error) => {
    const r = await register(meta);
    expect(r.status).toBe(400);
    expect(r.body['error']).toBe(error);
  });

  test('a body over the size limit → 413 OAuth JSON', async () => {
    const res = await balanced(`${ISSUER}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: [REDIRECT], filler: 'x'.repeat(64 * 1024) }),
    });
    expect(res.status).toBe(413);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(((await res.json()) as Record<string, unknown>)['error']).toBe('invalid_client_metadata');
  });
});

describe('errors answer in the OAuth shape, never HTML', () => {
  test('malformed JSON to /register → 400 invalid_client_metadata JSON', async () => {
    const res = await balanced(`${ISSUER}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"redirect_uris": [',
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toMatchObject({ error: 'invalid_client_metadata' });
  });

  test('wrong method on an OAuth endpoint → 405 OAuth JSON', async () => {
    const res = await balanced(`${ISSUER}/register`);
    expect(res.status).toBe(405);
    expect(await res.json()).toMatchObject({ error: 'method_not_allowed' });
  });
});

describe('client ID metadata document caching', () => {
  test('the document’s max-age bounds how long it is reused', async () => {
    const id = 'https://client.example/short-lived.json';
    documents.set(id, { client_id: id, client_name: 'short', redirect_uris: [REDIRECT] });
    cacheControl.set(id, 'max-age=120');
    await authorize(id);
    const ttl = await inspect.pttl(keys.oauth('cimd', createHash('sha256').update(id).digest('base64url')));
    expect(ttl).toBeGreaterThan(100_000);
    expect(ttl).toBeLessThanOrEqual(120_000);
  });

  test('a failed fetch is remembered briefly: the second request does not fetch again', async () => {
    const id = 'https://client.example/broken.json';
    failing.add(id);
    const before = fetchCount.get(id) ?? 0;
    for (let i = 0; i < 2; i++) {
      const { params } = await startParams(id);
      const res = await balanced(authorizeUrl(params), { redirect: 'manual' });
      expect(res.status).toBe(401);
    }
    expect((fetchCount.get(id) ?? 0) - before).toBe(1);
  });
});
