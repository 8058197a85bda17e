import express, { type RequestHandler } from 'express';
import helmet from 'helmet';
import request from 'supertest';
import { precomputedHeaders, probe, securityHeaderOptions, securityHeaders } from './staticHeaders.js';

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

/**
 * The contract with helmet that precomputing relies on: with the servers' options its middleware
 * only sets and removes headers, synchronously, whatever the request. A helmet release that breaks
 * it fails here, instead of quietly running the whole chain per request again.
 */
describe('contract: helmet as both servers configure it', () => {
  test.each([false, true])('sets headers only, synchronously, and is replayed exactly (https: %s)', async (https) => {
    const ops = probe(helmet(securityHeaderOptions(https)));
    expect(ops).toBeDefined();
    expect(ops!.map(([name]) => name.toLowerCase())).toEqual(
      expect.arrayContaining(['content-security-policy', 'x-frame-options']),
    );
    expect(ops!.some(([name]) => name.toLowerCase() === 'strict-transport-security')).toBe(https);
    expect(await headersOf(securityHeaders(https))).toEqual(await headersOf(helmet(securityHeaderOptions(https))));
  });
});

describe('precomputed security headers', () => {
  test.each([
    ['defaults', {}],
    [
      'HSTS and a custom CSP',
      {
        strictTransportSecurity: true,
        contentSecurityPolicy: { directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
      },
    ],
  ])('gives exactly the headers helmet gives (%s)', async (_name, options) => {
    const fast = precomputedHeaders(helmet(options));
    expect(probe(helmet(options))?.length).toBeGreaterThan(5);
    expect(await headersOf(fast)).toEqual(await headersOf(helmet(options)));
  });

  test('a middleware whose output depends on the request runs per request, unchanged', async () => {
    const nonced = helmet({
      contentSecurityPolicy: {
        directives: { scriptSrc: ["'self'", (req) => `'nonce-${String((req as { url?: string }).url)}'`] },
      },
    });
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
