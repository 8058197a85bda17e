/**
 * Every route answers in its protocol's shape, never Express's HTML page and never a stack trace:
 * JSON-RPC errors on the MCP transports, problem JSON (RFC 9457) on the operator API and unknown
 * routes, OAuth error JSON on the authorization server (checked in its own suite).
 */
import { randomBytes } from 'node:crypto';
import type { RequestHandler } from 'express';
import { loadConfig } from '../config.js';
import { createLogger } from '../observability/logger.js';
import { removeKeysWithPrefix } from '../redis/removePrefix.js';
import { startServer, type RunningServer } from '../server.js';
import { REDIS_URL, redisSettingsFor } from './cluster.js';

const prefix = `t${randomBytes(5).toString('hex')}`;
let server: RunningServer;
let integrated: RunningServer;

/** An auth layer that fails the way a bug or a dead Redis would: an unexpected error. */
const broken: RequestHandler = (_req, _res, next) => next(new Error('secret internals: redis at 10.0.0.7 refused'));

beforeAll(async () => {
  const env = {
    REDIS_URL,
    REDIS_PREFIX: prefix,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'silent',
    RATE_LIMIT_ENABLED: 'false',
    SHUTDOWN_GRACE_MS: '500',
  };
  server = await startServer(loadConfig({ ...env, AUTH_MODE: 'none' }), createLogger('silent'), {
    auth: { authenticate: broken },
  });
  integrated = await startServer(
    loadConfig({ ...env, AUTH_MODE: 'integrated', OAUTH_RATE_LIMIT_RELAXED: 'true' }),
    createLogger('silent'),
  );
});

afterAll(async () => {
  await Promise.allSettled([server?.stop(), integrated?.stop()]);
  await removeKeysWithPrefix(redisSettingsFor({ REDIS_URL }), prefix);
});

async function expectNoHtml(res: Response): Promise<Record<string, unknown>> {
  expect(res.headers.get('content-type')).toMatch(/^application\/(problem\+)?json/);
  const text = await res.text();
  expect(text).not.toMatch(/<html|<pre>|at .*\.(ts|js):\d+/i);
  expect(text).not.toContain('secret internals');
  return JSON.parse(text) as Record<string, unknown>;
}

test.each([
  ['GET', '/sse'],
  ['POST', '/message?sessionId=x'],
])('%s %s: an unexpected failure → 500 JSON-RPC error', async (method, path) => {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: method === 'POST' ? '{}' : undefined,
  });
  expect(res.status).toBe(500);
  expect(await expectNoHtml(res)).toEqual({
    jsonrpc: '2.0',
    error: { code: -32603, message: 'Internal error' },
    id: null,
  });
});

test('GET /sessions: an unexpected failure → 500 problem JSON', async () => {
  const res = await fetch(`${server.url}/sessions`);
  expect(res.status).toBe(500);
  expect(await expectNoHtml(res)).toMatchObject({ status: 500, title: 'Internal Server Error' });
});

test('an unknown route → 404 problem JSON', async () => {
  const res = await fetch(`${server.url}/no/such/route`);
  expect(res.status).toBe(404);
  expect(await expectNoHtml(res)).toMatchObject({ status: 404, title: 'Not Found' });
});

test('integrated mode: malformed JSON to /register → 400 OAuth JSON', async () => {
  const res = await fetch(`${integrated.url}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"redirect_uris":',
  });
  expect(res.status).toBe(400);
  expect(await expectNoHtml(res)).toMatchObject({ error: 'invalid_client_metadata' });
});
