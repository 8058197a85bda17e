import express, { type RequestHandler } from 'express';
import helmet from 'helmet';
import request from 'supertest';
import { precomputedHeaders, probe } from './staticHeaders.js';

function headersOf(mw: RequestHandler) {
  const app = express();
  app.use(mw);
  app.get('/', (_req, res) => res.send('ok'));
  return request(app)
    .get('/')
    .then((res) => {
      const { date: _date, etag: _etag, ...rest } = res.headers as Record<string, string>;
      return rest;
    });
}

describe('precomputed security headers', () => {
  test.each([
    ['defaults', {}],
    ['the app options', { strictTransportSecurity: false, frameguard: { action: 'deny' as const } }],
    ['HSTS and a custom CSP', { strictTransportSecurity: true, contentSecurityPolicy: { directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } } }],
  ])('gives exactly the headers helmet gives (%s)', async (_name, options) => {
    const fast = precomputedHeaders(helmet(options));
    expect(probe(helmet(options))?.length).toBeGreaterThan(5);
    expect(await headersOf(fast)).toEqual(await headersOf(helmet(options)));
  });

  test('a middleware whose output depends on the request runs per request, unchanged', async () => {
    const nonced = helmet({ contentSecurityPolicy: { directives: { scriptSrc: ["'self'", (req) => `'nonce-${String((req as { url?: string }).url)}'`] } } });
    expect(probe(nonced)).toBeUndefined();
    expect(precomputedHeaders(nonced)).toBe(nonced);

    const readsRes: RequestHandler = (_req, res, next) => {
      if (!res.headersSent) res.setHeader('X-Test', '1');
      next();
    };
    expect(precomputedHeaders(readsRes)).toBe(readsRes);
    const async: RequestHandler = (_req, res, next) => {
      res.setHeader('X-Test', '1');
      setImmediate(next);
    };
    expect(precomputedHeaders(async)).toBe(async);
    const failing: RequestHandler = (_req, _res, next) => next(new Error('no'));
    expect(precomputedHeaders(failing)).toBe(failing);
  });
});
