/**
 * The shared bearer middleware (src/auth/bearer.ts): how verifier outcomes become HTTP answers.
 */
import express, { type ErrorRequestHandler } from 'express';
import request from 'supertest';
import { bearerAuth } from '../bearer.js';
import { invalidToken } from '../oauthError.js';
import type { AuthInfo } from '../types.js';
import { AuthServerUnavailableError } from './errors.js';

const good: AuthInfo = {
  token: 'abc',
  clientId: 'c',
  scopes: ['mcp'],
  expiresAt: Math.floor(Date.now() / 1000) + 60,
  extra: { userId: 'u' },
};

function app(verify: (token: string) => Promise<AuthInfo>) {
  const a = express();
  a.use(
    '/mcp',
    bearerAuth({
      verifier: { verifyAccessToken: verify },
      requiredScopes: ['mcp'],
      resourceMetadataUrl: 'http://x/prm',
    }),
  );
  a.all('/mcp', (req, res) => res.json({ auth: req.auth }));
  const onError: ErrorRequestHandler = (err: Error, _req, res, _next) => res.status(500).json({ handled: err.message });
  a.use(onError);
  return a;
}

test('success: req.auth without the raw token', async () => {
  const res = await request(app(async () => good))
    .get('/mcp')
    .set('Authorization', 'bearer abc')
    .expect(200);
  expect(res.body.auth).toMatchObject({ token: '', clientId: 'c', extra: { userId: 'u' } });
});

test('CORS preflights pass without credentials', async () => {
  await request(app(async () => good))
    .options('/mcp')
    .expect(200);
});

test('malformed Authorization header → 401 invalid_token', async () => {
  for (const h of ['Basic abc', 'Bearer', 'Bearer a b', 'Bearer "quoted"']) {
    const res = await request(app(async () => good))
      .get('/mcp')
      .set('Authorization', h)
      .expect(401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer error="invalid_token"/);
  }
});

test('error descriptions cannot break out of the quoted challenge parameter', async () => {
  const res = await request(
    app(async () => {
      throw invalidToken('bad "x"\\ \n y');
    }),
  )
    .get('/mcp')
    .set('Authorization', 'Bearer abc')
    .expect(401);
  expect(res.headers['www-authenticate']).toBe(
    'Bearer error="invalid_token", error_description="bad x  y", scope="mcp", resource_metadata="http://x/prm"',
  );
});

test('expired, ownerless or expiry-less AuthInfo → 401', async () => {
  for (const info of [
    { ...good, expiresAt: 1 },
    { ...good, expiresAt: undefined },
    { ...good, extra: {} },
  ]) {
    await request(app(async () => info))
      .get('/mcp')
      .set('Authorization', 'Bearer abc')
      .expect(401);
  }
});

test('AS unavailable → 503 + Retry-After, no challenge', async () => {
  const res = await request(
    app(async () => {
      throw new AuthServerUnavailableError('down', 7);
    }),
  )
    .get('/mcp')
    .set('Authorization', 'Bearer abc')
    .expect(503);
  expect(res.headers['retry-after']).toBe('7');
  expect(res.headers['www-authenticate']).toBeUndefined();
  expect(res.body.error).toBe('temporarily_unavailable');
});

test('an unexpected verifier failure goes to the app error handler (not a silent 500 here)', async () => {
  const res = await request(
    app(async () => {
      throw new Error('bug');
    }),
  )
    .get('/mcp')
    .set('Authorization', 'Bearer abc')
    .expect(500);
  expect(res.body).toEqual({ handled: 'bug' });
});
