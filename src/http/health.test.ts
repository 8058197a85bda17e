import { jest } from '@jest/globals';
import express from 'express';
import request from 'supertest';
import { healthRouter, type HealthOptions } from './health.js';

function appWith(opts: Partial<HealthOptions>) {
  const app = express();
  app.use(
    healthRouter({
      redisPing: async () => 'PONG',
      isDraining: () => false,
      timeoutMs: 200,
      ...opts,
    }),
  );
  return app;
}

describe('GET /health', () => {
  it('is 200 even when Redis is down', async () => {
    const res = await request(appWith({ redisPing: () => Promise.reject(new Error('ECONNREFUSED 10.0.0.5')) })).get(
      '/health',
    );
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
    expect(res.headers['cache-control']).toBe('no-store');
  });
});

describe('GET /ready', () => {
  it('is 200 when Redis answers and the instance is not draining', async () => {
    const res = await request(appWith({})).get('/ready');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ready' });
  });

  it('is 503 while draining, without touching Redis', async () => {
    const ping = jest.fn(async () => 'PONG');
    const res = await request(appWith({ isDraining: () => true, redisPing: ping })).get('/ready');
    expect(res.status).toBe(503);
    expect(res.body).toEqual({ status: 'unavailable', reason: 'draining' });
    expect(res.headers['retry-after']).toBe('1');
    expect(ping).not.toHaveBeenCalled();
  });

  it('turns 503 when draining starts (graceful shutdown)', async () => {
    let draining = false;
    const app = appWith({ isDraining: () => draining });
    expect((await request(app).get('/ready')).status).toBe(200);
    draining = true;
    expect((await request(app).get('/ready')).status).toBe(503);
  });

  it('is 503 when Redis fails, and does not leak the error', async () => {
    const res = await request(
      appWith({ redisPing: () => Promise.reject(new Error('ECONNREFUSED 10.0.0.5:6379')) }),
    ).get('/ready');
    expect(res.status).toBe(503);
    expect(res.body).toEqual({ status: 'unavailable', reason: 'redis_unavailable' });
    expect(res.text).not.toContain('10.0.0.5');
  });

  it('is 503 when Redis does not answer within the timeout', async () => {
    const never = () => new Promise<never>(() => undefined);
    const res = await request(appWith({ redisPing: never, timeoutMs: 50 })).get('/ready');
    expect(res.status).toBe(503);
    expect(res.body.reason).toBe('redis_unavailable');
  });

  it('treats a synchronous throw from the probe as unavailable', async () => {
    const res = await request(
      appWith({
        redisPing: () => {
          throw new Error('boom');
        },
      }),
    ).get('/ready');
    expect(res.status).toBe(503);
  });
});
