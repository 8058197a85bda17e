/**
 * Auth-endpoint rate limits are counted in Redis, so two instances share one budget, and a
 * client cannot escape its bucket by inventing X-Forwarded-For when no proxy hop is trusted.
 */
import express from 'express';
import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { createLogger } from '../../observability/logger.js';
import { createKeyspace } from '../../redis/keys.js';
import { createAuthorizationServer, type AuthorizationServer } from './authorizationServer.js';

const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const prefix = `t${randomBytes(5).toString('hex')}`;
const connections: Redis[] = [];
const servers: AuthorizationServer[] = [];

function instance(extra: Partial<Parameters<typeof createAuthorizationServer>[0]> = {}, trustProxyHops = 0) {
  const redis = new Redis(REDIS_URL);
  connections.push(redis);
  const as = createAuthorizationServer({
    issuer: 'http://localhost:3232',
    resources: ['http://localhost:3232/mcp'],
    scopes: ['mcp'],
    redis,
    keys: createKeyspace(prefix),
    log: createLogger('silent'),
    // register: 20/hour × 0.1 = 2 per hour for the whole deployment.
    rateLimit: { multiplier: 0.1, store: 'redis' },
    ...extra,
  });
  servers.push(as);
  const app = express();
  app.set('trust proxy', trustProxyHops);
  app.use(as.router);
  return app;
}

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  const keys = await connections[0]!.keys(`${prefix}:*`);
  if (keys.length) await connections[0]!.del(...keys);
  for (const c of connections) c.disconnect();
});

test('the registration limit is shared by all instances and ignores a spoofed X-Forwarded-For', async () => {
  const [a, b] = [instance(), instance()];
  const body = { redirect_uris: ['http://127.0.0.1:1/cb'], token_endpoint_auth_method: 'none' };
  await request(a).post('/register').send(body).expect(201);
  await request(b).post('/register').set('X-Forwarded-For', '203.0.113.9').send(body).expect(201);
  const third = await request(a).post('/register').set('X-Forwarded-For', '198.51.100.7').send(body).expect(429);
  expect(third.body.error).toBe('too_many_requests');
  await request(b).post('/register').send(body).expect(429);
});

test('live registrations per address are capped; another address still registers', async () => {
  const app = instance({ rateLimit: { multiplier: 1000, store: 'redis' }, maxClientsPerAddress: 2 }, 1);
  const body = { redirect_uris: ['http://127.0.0.1:1/cb'], token_endpoint_auth_method: 'none' };
  const from = (addr: string) => request(app).post('/register').set('X-Forwarded-For', addr).send(body);
  expect((await from('198.51.100.20')).status).toBe(201);
  expect((await from('198.51.100.20')).status).toBe(201);
  const third = await from('198.51.100.20');
  expect(third.status).toBe(429);
  expect(third.body.error).toBe('too_many_requests');
  expect((await from('198.51.100.21')).status).toBe(201);
});
