/**
 * Separate mode against an authorization server nobody here wrote: oidc-provider as the
 * "corporate SSO" (see fixtures/corporateSso.ts). Tokens come from a real authorization-code +
 * PKCE flow and go through setupSeparateAuth's router and bearer middleware, for both validation
 * strategies, plus the negative cases and the AS-down/AS-back behaviour.
 */
import express from 'express';
import { SignJWT, UnsecuredJWT, generateKeyPair } from 'jose';
import request from 'supertest';
import { loadConfig } from '../../config.js';
import { createLogger } from '../../observability/logger.js';
import { userIdOf } from '../types.js';
import {
  JWT_CLIENT_ID,
  MCP_SCOPE,
  OPAQUE_CLIENT_ID,
  RS_CLIENT,
  RS_CLIENT_POST,
  startCorporateSso,
  type CorporateSso,
} from './fixtures/corporateSso.js';
import { setupSeparateAuth } from './setup.js';

const BASE = 'http://127.0.0.1:3232';
const RESOURCE = `${BASE}/mcp`;
const PRM_URL = `${BASE}/.well-known/oauth-protected-resource/mcp`;

let sso: CorporateSso;

beforeAll(async () => {
  sso = await startCorporateSso();
});
afterAll(async () => {
  await sso.close();
});

/** A resource server in separate mode; `calls` counts requests it made to the AS, by path. */
async function resourceServer(env: Record<string, string> = {}) {
  const calls: string[] = [];
  const countingFetch: typeof fetch = (input, init) => {
    calls.push(new URL(String(input)).pathname);
    return fetch(input, init);
  };
  const config = loadConfig({
    AUTH_MODE: 'separate',
    BASE_URI: BASE,
    AUTH_SERVER_URL: sso.issuer,
    AUTH_SERVER_RETRY_AFTER_SECONDS: '0',
    AUTH_SERVER_TIMEOUT_MS: '2000',
    REQUIRED_SCOPES: 'mcp:tools',
    ...env,
  });
  const setup = await setupSeparateAuth({ config, log: createLogger('silent'), fetch: countingFetch });
  const app = express();
  app.use(setup.router!);
  app.all('/mcp', setup.authenticate, (req, res) => {
    res.json({ userId: userIdOf(req.auth), scopes: req.auth?.scopes, token: req.auth?.token });
  });
  return { app, setup, calls };
}

const bearer = (t: string) => ({ Authorization: `Bearer ${t}` });

describe.each([
  ['jwt', {}, undefined],
  [
    'introspection',
    {
      TOKEN_VALIDATION: 'introspection',
      INTROSPECTION_CLIENT_ID: RS_CLIENT.id,
      INTROSPECTION_CLIENT_SECRET: RS_CLIENT.secret,
    },
    OPAQUE_CLIENT_ID,
  ],
] as const)('separate mode with %s validation', (_name, env, clientId) => {
  test('a token from the authorization-code + PKCE flow is accepted; the user id comes from sub', async () => {
    const { app } = await resourceServer(env);
    const token = await sso.getAccessToken({ resource: RESOURCE, userId: 'alice', clientId });
    const res = await request(app).post('/mcp').set(bearer(token)).expect(200);
    expect(res.body).toEqual({ userId: 'alice', scopes: ['mcp:tools'], token: '' });
  });

  test('a token issued for another resource is refused with 401 invalid_token', async () => {
    const { app } = await resourceServer(env);
    const token = await sso.getAccessToken({ resource: 'http://127.0.0.1:9999/other', userId: 'alice', clientId });
    const res = await request(app).post('/mcp').set(bearer(token)).expect(401);
    expect(res.headers['www-authenticate']).toContain('error="invalid_token"');
    expect(res.headers['www-authenticate']).toContain(`resource_metadata="${PRM_URL}"`);
  });

  test('ACCEPTED_AUDIENCES admits tokens whose audience is a configured value (IdPs without resource indicators)', async () => {
    const other = 'http://127.0.0.1:9999/api';
    const { app } = await resourceServer({ ...env, ACCEPTED_AUDIENCES: other });
    const token = await sso.getAccessToken({ resource: other, userId: 'carol', clientId });
    await request(app).post('/mcp').set(bearer(token)).expect(200);
  });

  test('USER_ID_CLAIM picks the claim that owns sessions', async () => {
    const { app } = await resourceServer({ ...env, USER_ID_CLAIM: 'client_id' });
    const token = await sso.getAccessToken({ resource: RESOURCE, userId: 'alice', clientId });
    const res = await request(app).post('/mcp').set(bearer(token)).expect(200);
    expect(res.body.userId).toBe(clientId ?? 'mcp-client-jwt');
  });

  test('missing required scope → 403 insufficient_scope naming every needed scope', async () => {
    const { app } = await resourceServer({ ...env, REQUIRED_SCOPES: 'mcp:tools mcp:admin'.replace(' ', ',') });
    const token = await sso.getAccessToken({ resource: RESOURCE, userId: 'alice', clientId });
    const res = await request(app).post('/mcp').set(bearer(token)).expect(403);
    expect(res.headers['www-authenticate']).toBe(
      `Bearer error="insufficient_scope", error_description="Insufficient scope", scope="mcp:tools mcp:admin", resource_metadata="${PRM_URL}"`,
    );
  });

  test('AS down → 503 with Retry-After and a JSON error (not 401); AS back → accepted again', async () => {
    const { app } = await resourceServer(env);
    const token = await sso.getAccessToken({ resource: RESOURCE, userId: 'alice', clientId });
    await sso.stop();
    try {
      const res = await request(app).post('/mcp').set(bearer(token)).expect(503);
      expect(res.headers['retry-after']).toMatch(/^\d+$/);
      expect(res.body.error).toBe('temporarily_unavailable');
      expect(res.headers['www-authenticate']).toBeUndefined();
    } finally {
      await sso.start();
    }
    await request(app).post('/mcp').set(bearer(token)).expect(200);
  });
});

describe('JWT validation specifics', () => {
  const forge = (claims: Record<string, unknown>) =>
    new SignJWT({ sub: 'mallory', scope: 'mcp:tools', client_id: 'x', ...claims })
      .setIssuer(sso.issuer)
      .setAudience(RESOURCE)
      .setIssuedAt()
      .setExpirationTime('5m');

  test('401 challenge without a token names the PRM and the scope, with no error code (RFC 6750 §3.1)', async () => {
    const { app } = await resourceServer();
    const res = await request(app).get('/mcp').expect(401);
    expect(res.headers['www-authenticate']).toBe(`Bearer scope="mcp:tools", resource_metadata="${PRM_URL}"`);
  });

  test('PRM names the external issuer at the path-suffixed and the root well-known URL; no AS endpoints here', async () => {
    const { app } = await resourceServer();
    for (const path of ['/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-protected-resource']) {
      const res = await request(app).get(path).set('Origin', 'http://localhost:6274').expect(200);
      expect(res.body).toMatchObject({
        resource: RESOURCE,
        authorization_servers: [sso.issuer],
        scopes_supported: ['mcp:tools'],
      });
      expect(res.headers['access-control-allow-origin']).toBe('*');
    }
    for (const path of ['/.well-known/oauth-authorization-server', '/authorize', '/token', '/register']) {
      await request(app).get(path).expect(404);
    }
  });

  test('a token from another issuer is refused without contacting anyone', async () => {
    const { app, calls } = await resourceServer();
    const { privateKey } = await generateKeyPair('ES256');
    const token = await forge({})
      .setIssuer('http://127.0.0.1:1/evil')
      .setProtectedHeader({ alg: 'ES256', kid: 'corp-sso-key-1' })
      .sign(privateKey);
    const res = await request(app).post('/mcp').set(bearer(token)).expect(401);
    expect(res.body.error_description).toBe('token issued by another issuer');
    expect(calls.filter((c) => c === '/jwks')).toEqual([]);
  });

  test('expired (beyond the clock skew) is refused; within the skew is accepted', async () => {
    const { app } = await resourceServer({ JWT_CLOCK_SKEW_SECONDS: '30' });
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: 'ES256', kid: sso.publicJwk.kid! };
    const expired = await forge({})
      .setExpirationTime(now - 120)
      .setProtectedHeader(header)
      .sign(sso.signingKey);
    const res = await request(app).post('/mcp').set(bearer(expired)).expect(401);
    expect(res.body.error_description).toBe('token expired');
    const justExpired = await forge({})
      .setExpirationTime(now - 5)
      .setProtectedHeader(header)
      .sign(sso.signingKey);
    await request(app).post('/mcp').set(bearer(justExpired)).expect(200);
  });

  test('alg none and HMAC algorithms are refused', async () => {
    const { app } = await resourceServer();
    const none = new UnsecuredJWT({ sub: 'mallory', scope: 'mcp:tools' })
      .setIssuer(sso.issuer)
      .setAudience(RESOURCE)
      .setExpirationTime('5m')
      .encode();
    expect((await request(app).post('/mcp').set(bearer(none)).expect(401)).body.error_description).toBe(
      'token signing algorithm not allowed',
    );
    const hs = await forge({})
      .setProtectedHeader({ alg: 'HS256', kid: 'corp-sso-key-1' })
      .sign(new TextEncoder().encode('x'.repeat(32)));
    expect((await request(app).post('/mcp').set(bearer(hs)).expect(401)).body.error_description).toBe(
      'token signing algorithm not allowed',
    );
  });

  test('a forged signature under the real kid is refused', async () => {
    const { app } = await resourceServer();
    const { privateKey } = await generateKeyPair('ES256');
    const token = await forge({}).setProtectedHeader({ alg: 'ES256', kid: sso.publicJwk.kid! }).sign(privateKey);
    expect((await request(app).post('/mcp').set(bearer(token)).expect(401)).body.error_description).toBe(
      'token signature invalid',
    );
  });

  test('an unknown kid triggers one JWKS refetch, then none during the cooldown', async () => {
    const { app, calls } = await resourceServer({ JWKS_COOLDOWN_SECONDS: '30' });
    const good = await sso.getAccessToken({ resource: RESOURCE, userId: 'alice' });
    await request(app).post('/mcp').set(bearer(good)).expect(200);
    const { privateKey } = await generateKeyPair('ES256');
    const jwksBefore = calls.filter((c) => c === '/jwks').length;
    for (const kid of ['rotated-1', 'rotated-2', 'rotated-3']) {
      const token = await forge({}).setProtectedHeader({ alg: 'ES256', kid }).sign(privateKey);
      const res = await request(app).post('/mcp').set(bearer(token)).expect(401);
      expect(res.body.error_description).toBe('token signed with an unknown key');
    }
    // The first fetch happened within the cooldown of the initial one, so jose did not refetch at all.
    expect(calls.filter((c) => c === '/jwks').length - jwksBefore).toBeLessThanOrEqual(1);
  });

  test('an unknown kid is looked up again once the cooldown has passed (key rotation)', async () => {
    const { app, calls } = await resourceServer({ JWKS_COOLDOWN_SECONDS: '0' });
    const good = await sso.getAccessToken({ resource: RESOURCE, userId: 'alice' });
    await request(app).post('/mcp').set(bearer(good)).expect(200);
    const { privateKey } = await generateKeyPair('ES256');
    const token = await forge({}).setProtectedHeader({ alg: 'ES256', kid: 'rotated' }).sign(privateKey);
    const before = calls.filter((c) => c === '/jwks').length;
    await request(app).post('/mcp').set(bearer(token)).expect(401);
    expect(calls.filter((c) => c === '/jwks').length).toBe(before + 1);
  });

  test('with the JWKS cached, validation needs no network: the AS can be down', async () => {
    const { app, calls } = await resourceServer();
    const token = await sso.getAccessToken({ resource: RESOURCE, userId: 'alice' });
    await request(app).post('/mcp').set(bearer(token)).expect(200);
    const before = calls.length;
    await sso.stop();
    try {
      for (let i = 0; i < 5; i++) await request(app).post('/mcp').set(bearer(token)).expect(200);
    } finally {
      await sso.start();
    }
    expect(calls.length).toBe(before);
  });

  test('an unknown kid while the AS is down is a 503, not a 401', async () => {
    const { app } = await resourceServer({ JWKS_COOLDOWN_SECONDS: '0' });
    await request(app)
      .post('/mcp')
      .set(bearer(await sso.getAccessToken({ resource: RESOURCE, userId: 'a' })))
      .expect(200);
    const { privateKey } = await generateKeyPair('ES256');
    const token = await forge({}).setProtectedHeader({ alg: 'ES256', kid: 'rotated' }).sign(privateKey);
    await sso.stop();
    try {
      await request(app).post('/mcp').set(bearer(token)).expect(503);
    } finally {
      await sso.start();
    }
  });
});

describe('introspection specifics', () => {
  const env = {
    TOKEN_VALIDATION: 'introspection',
    INTROSPECTION_CLIENT_ID: RS_CLIENT.id,
    INTROSPECTION_CLIENT_SECRET: RS_CLIENT.secret,
  };

  test('active results are cached: repeated requests introspect once', async () => {
    const { app, calls } = await resourceServer(env);
    const token = await sso.getAccessToken({ resource: RESOURCE, userId: 'dave', clientId: OPAQUE_CLIENT_ID });
    for (let i = 0; i < 5; i++) await request(app).post('/mcp').set(bearer(token)).expect(200);
    expect(calls.filter((c) => c === '/token/introspection')).toHaveLength(1);
  });

  test('an unknown token is inactive → 401', async () => {
    const { app } = await resourceServer(env);
    const res = await request(app).post('/mcp').set(bearer('not-a-real-token')).expect(401);
    expect(res.body.error_description).toBe('token is not active');
  });

  test('wrong resource-server credentials are an operator problem → 503, not 401', async () => {
    const { app } = await resourceServer({ ...env, INTROSPECTION_CLIENT_SECRET: 'wrong-secret' });
    const token = await sso.getAccessToken({ resource: RESOURCE, userId: 'dave', clientId: OPAQUE_CLIENT_ID });
    await request(app).post('/mcp').set(bearer(token)).expect(503);
  });

  test('client_secret_post works too', async () => {
    const { app } = await resourceServer({
      ...env,
      INTROSPECTION_AUTH_METHOD: 'client_secret_post',
      INTROSPECTION_CLIENT_ID: RS_CLIENT_POST.id,
      INTROSPECTION_CLIENT_SECRET: RS_CLIENT_POST.secret,
    });
    const token = await sso.getAccessToken({ resource: RESOURCE, userId: 'dave', clientId: OPAQUE_CLIENT_ID });
    await request(app).post('/mcp').set(bearer(token)).expect(200);
  });
});

describe('ID tokens are not access tokens (RFC 9068 §2.1, security review finding 2)', () => {
  const claims = { sub: 'mallory', client_id: 'x' };
  const sign = (extra: Record<string, unknown>, typ?: string) =>
    new SignJWT({ ...claims, ...extra })
      .setIssuer(sso.issuer)
      .setAudience(RESOURCE)
      .setIssuedAt()
      .setExpirationTime('5m')
      .setProtectedHeader({ alg: 'ES256', kid: sso.publicJwk.kid!, ...(typ ? { typ } : {}) })
      .sign(sso.signingKey);

  test('a real ID token from the SSO, whose aud is an accepted audience, is refused with the default settings', async () => {
    const tokens = await sso.getTokens({ resource: RESOURCE, userId: 'alice', scope: `openid ${MCP_SCOPE}` });
    expect(tokens.id_token).toBeDefined();
    // REQUIRED_SCOPES unset (the default), the client's id accepted as an audience (Entra-style).
    const { app } = await resourceServer({ REQUIRED_SCOPES: '', ACCEPTED_AUDIENCES: JWT_CLIENT_ID });
    const res = await request(app).post('/mcp').set(bearer(tokens.id_token!)).expect(401);
    expect(res.body.error_description).toBe('an ID token is not an access token');
    // The access token of the same flow is fine.
    await request(app).post('/mcp').set(bearer(tokens.access_token)).expect(200);
  });

  test.each([
    ['nonce', { scope: 'mcp:tools', nonce: 'n' }],
    ['at_hash', { scope: 'mcp:tools', at_hash: 'h' }],
    ['no scope claim at all', {}],
  ])('a JWT without typ at+jwt carrying %s is refused', async (_name, extra) => {
    const { app } = await resourceServer({ REQUIRED_SCOPES: '' });
    const res = await request(app)
      .post('/mcp')
      .set(bearer(await sign(extra)))
      .expect(401);
    expect(res.body.error_description).toBe('an ID token is not an access token');
  });

  test('typ at+jwt, or a plain JWT with a scope claim (Okta, Entra), is accepted', async () => {
    const { app } = await resourceServer({ REQUIRED_SCOPES: '' });
    await request(app)
      .post('/mcp')
      .set(bearer(await sign({ scope: 'mcp:tools' }, 'at+jwt')))
      .expect(200);
    await request(app)
      .post('/mcp')
      .set(bearer(await sign({ scp: ['mcp:tools'] }, 'JWT')))
      .expect(200);
  });
});
