import { randomBytes } from 'node:crypto';
import express, { type Express } from 'express';
import { Redis } from 'ioredis';
import request from 'supertest';
import { Metrics } from '../observability/metrics.js';
import { createKeyspace, type Keyspace } from '../redis/keys.js';
import { mcpRateLimitKeys, redisCounters, securityCounters } from '../redis/rateLimitStore.js';
import { mcpRateLimits, type RateLimitConfig } from './rateLimit.js';

const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';

const BASE: RateLimitConfig = {
  RATE_LIMIT_ENABLED: true,
  RATE_LIMIT_WINDOW_SECONDS: 60,
  RATE_LIMIT_PER_USER: 1000,
  RATE_LIMIT_PER_ADDRESS: 1000,
};

interface Instance {
  app: Express;
  metrics: Metrics;
}

/** One "instance": its own express app, metrics and limiters, sharing the Redis connection's server. */
function instance(
  redis: Redis | undefined,
  keys: Keyspace,
  config: Partial<RateLimitConfig>,
  opts: { trustProxyHops?: number } = {},
): Instance {
  const metrics = new Metrics({ defaultMetrics: false });
  const limits = mcpRateLimits({
    counters: securityCounters(redis),
    keys: mcpRateLimitKeys(keys),
    config: { ...BASE, ...config },
    metrics,
  });
  const app = express();
  app.set('trust proxy', opts.trustProxyHops ?? 0);
  app.use('/mcp', limits.perAddress);
  // Stand-in for bearer auth: the user comes from a test header.
  app.use('/mcp', (req, _res, next) => {
    const user = req.headers['x-test-user'];
    if (typeof user === 'string') req.auth = { token: 't', clientId: 'c', scopes: [], extra: { userId: user } };
    next();
  });
  app.use('/mcp', limits.perUser);
  app.post('/mcp', (_req, res) => {
    res.json({ jsonrpc: '2.0', id: 1, result: {} });
  });
  return { app, metrics };
}

async function rejections(metrics: Metrics, scope: string): Promise<number> {
  const text = (await metrics.exposition()).body;
  const line = text.split('\n').find((l) => l.startsWith(`mcp_rate_limit_rejections_total{scope="${scope}"} `));
  return line === undefined ? 0 : Number(line.split(' ')[1]);
}

function expect429(res: request.Response, windowSeconds: number) {
  expect(res.status).toBe(429);
  const retryAfter = Number(res.headers['retry-after']);
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(windowSeconds);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(res.body).toEqual({
    jsonrpc: '2.0',
    error: { code: -32000, message: expect.stringContaining('Rate limit exceeded') },
    id: null,
  });
}

describe('mcpRateLimits with a shared Redis', () => {
  // One connection per "instance", as in production.
  let redis: Redis;
  let redis2: Redis;
  let keys: Keyspace;

  beforeAll(async () => {
    redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    redis2 = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await Promise.all([redis.connect(), redis2.connect()]);
  });

  beforeEach(() => {
    keys = createKeyspace(`test-ratelimit-${randomBytes(6).toString('hex')}`);
  });

  afterEach(async () => {
    const stale = await redis.keys(`${keys.prefix}:*`);
    if (stale.length > 0) await redis.del(...stale);
  });

  afterAll(async () => {
    await Promise.all([redis.quit(), redis2.quit()]);
  });

  it('trips the per-user limit shared by two instances, with 429, Retry-After and a JSON-RPC body', async () => {
    const a = instance(redis, keys, { RATE_LIMIT_PER_USER: 3 });
    const b = instance(redis2, keys, { RATE_LIMIT_PER_USER: 3 });
    const call = (i: Instance, user = 'alice') => request(i.app).post('/mcp').set('X-Test-User', user).send({});

    // Alternating instances: each sees at most 2 requests, yet the third overall is the last allowed.
    expect((await call(a)).status).toBe(200);
    expect((await call(b)).status).toBe(200);
    const third = await call(a);
    expect(third.status).toBe(200);
    expect(third.headers['ratelimit']).toMatch(/"mcp-user"; r=0; t=\d+/);

    expect429(await call(b), 60);
    expect429(await call(a), 60);

    expect(await rejections(b.metrics, 'user')).toBe(1);
    expect(await rejections(a.metrics, 'user')).toBe(1);
    expect(await rejections(a.metrics, 'address')).toBe(0);

    // Another user has a budget of their own.
    expect((await call(b, 'bob')).status).toBe(200);
    // The raw user id never appears in the keyspace.
    expect((await redis.keys(`${keys.prefix}:*`)).join(' ')).not.toContain('alice');
  });

  it('trips the per-address limit before authentication, across instances, ignoring spoofed X-Forwarded-For', async () => {
    const a = instance(redis, keys, { RATE_LIMIT_PER_ADDRESS: 2 });
    const b = instance(redis2, keys, { RATE_LIMIT_PER_ADDRESS: 2 });
    // No user at all: the address limit applies before authentication would reject.
    const call = (i: Instance, xff: string) => request(i.app).post('/mcp').set('X-Forwarded-For', xff).send({});

    expect((await call(a, '198.51.100.1')).status).not.toBe(429);
    expect((await call(b, '198.51.100.2')).status).not.toBe(429);
    const res = await call(a, '198.51.100.3');
    expect429(res, 60);
    expect(res.headers['ratelimit']).toMatch(/"mcp-address"; r=0/);
    expect(await rejections(a.metrics, 'address')).toBe(1);
  });

  it('believes X-Forwarded-For only for the configured number of proxy hops', async () => {
    const a = instance(redis, keys, { RATE_LIMIT_PER_ADDRESS: 1 }, { trustProxyHops: 1 });
    const b = instance(redis2, keys, { RATE_LIMIT_PER_ADDRESS: 1 }, { trustProxyHops: 1 });
    // With one trusted hop the address is the right-most XFF entry: distinct clients, distinct budgets.
    expect(
      (await request(a.app).post('/mcp').set('X-Forwarded-For', '203.0.113.7').set('X-Test-User', 'u1').send({}))
        .status,
    ).toBe(200);
    expect(
      (await request(b.app).post('/mcp').set('X-Forwarded-For', '203.0.113.8').set('X-Test-User', 'u2').send({}))
        .status,
    ).toBe(200);
    // A client prepending its own entry does not escape: the proxy-appended one is what counts.
    expect429(
      await request(a.app)
        .post('/mcp')
        .set('X-Forwarded-For', '192.0.2.99, 203.0.113.7')
        .set('X-Test-User', 'u1')
        .send({}),
      60,
    );
  });
});

describe('the counters behind the limits (one script per check)', () => {
  let redis: Redis;
  let keys: Keyspace;
  beforeAll(async () => {
    redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
  });
  beforeEach(() => {
    keys = createKeyspace(`test-counters-${randomBytes(6).toString('hex')}`);
  });
  afterEach(async () => {
    const stale = await redis.keys(`${keys.prefix}:*`);
    if (stale.length > 0) await redis.del(...stale);
  });
  afterAll(() => redis.quit());

  it('counts and checks in order, stopping at a count over its limit or a missing key', async () => {
    const counters = redisCounters(redis);
    const [addr, grant, user] = ['a', 'grant', 'u'].map((k) => `${keys.prefix}:${k}`) as [string, string, string];
    await redis.set(grant, '1');
    const steps = [
      { kind: 'count', key: addr, limit: 1 },
      { kind: 'live', key: grant },
      { kind: 'count', key: user, limit: 5 },
    ] as const;
    const first = await counters.run(steps, 60_000);
    expect(first[0]).toEqual({ kind: 'count', hits: 1, resetMs: expect.any(Number) });
    expect((first[0] as { resetMs: number }).resetMs).toBeGreaterThan(59_000);
    expect(first[1]).toEqual({ kind: 'live', live: true });
    expect(first[2]).toMatchObject({ kind: 'count', hits: 1 });
    // Over the address limit: the grant is not asked and the user not counted.
    const second = await counters.run(steps, 60_000);
    expect(second).toEqual([{ kind: 'count', hits: 2, resetMs: expect.any(Number) }, undefined, undefined]);
    expect(await redis.get(user)).toBe('1');
    // A missing grant stops the script before the user is counted.
    await redis.del(grant, addr);
    const third = await counters.run(steps, 60_000);
    expect(third).toEqual([
      { kind: 'count', hits: 1, resetMs: expect.any(Number) },
      { kind: 'live', live: false },
      undefined,
    ]);
    expect(await redis.get(user)).toBe('1');
    // Every counter expires with its window.
    expect(await redis.pttl(addr)).toBeGreaterThan(0);
    expect(await redis.pttl(user)).toBeGreaterThan(0);
  });

  it('on a Cluster (keys on different shards) sends the steps concurrently, each counted', async () => {
    // A Cluster client routes each command to its key's node; here every "node" is the one Redis,
    // which is what the per-step logic needs to be checked against.
    const cluster = Object.assign(Object.create(redis) as Redis, { isCluster: true });
    const sent: string[] = [];
    for (const name of ['evalsha', 'eval', 'exists'] as const) {
      const original = redis[name].bind(redis) as (...a: unknown[]) => Promise<unknown>;
      (cluster as unknown as Record<string, unknown>)[name] = (...a: unknown[]) => (sent.push(name), original(...a));
    }
    const [addr, grant, user] = ['a', 'grant', 'u'].map((k) => `${keys.prefix}:${k}`) as [string, string, string];
    const answers = await redisCounters(cluster).run(
      [
        { kind: 'count', key: addr, limit: 0 },
        { kind: 'live', key: grant },
        { kind: 'count', key: user, limit: 5 },
      ],
      60_000,
    );
    expect(answers).toEqual([
      { kind: 'count', hits: 1, resetMs: expect.any(Number) },
      { kind: 'live', live: false },
      { kind: 'count', hits: 1, resetMs: expect.any(Number) },
    ]);
    // One command per step, none waiting for another.
    expect(sent.filter((n) => n === 'exists')).toHaveLength(1);
    expect(sent.filter((n) => n !== 'exists')).toHaveLength(2);
  });

  it('an authentication refusal still counts against the address, and an exhausted address answers 429 first', async () => {
    const limits = mcpRateLimits({
      counters: securityCounters(redis),
      keys: mcpRateLimitKeys(keys),
      config: { ...BASE, RATE_LIMIT_PER_ADDRESS: 1 },
    });
    const app = express();
    app.use('/mcp', limits.perAddress);
    // Stand-in for bearer auth refusing a bad token: through the batch, as src/auth/bearer.ts does.
    app.use('/mcp', (req, res) =>
      req.deferredChecks!.refuse(req, res, () => void res.status(401).json({ error: 'invalid_token' })),
    );
    expect((await request(app).post('/mcp').send({})).status).toBe(401);
    const second = await request(app).post('/mcp').send({});
    expect429(second, 60);
  });
});

describe('mcpRateLimits without Redis', () => {
  const keys = createKeyspace('unused');

  it('counts in memory when there is no shared Redis (embedded mode)', async () => {
    const a = instance(undefined, keys, { RATE_LIMIT_PER_USER: 1 });
    const call = () => request(a.app).post('/mcp').set('X-Test-User', 'alice').send({});
    expect((await call()).status).toBe(200);
    expect429(await call(), 60);
  });

  it('lets everything through when disabled', async () => {
    const a = instance(undefined, keys, {
      RATE_LIMIT_ENABLED: false,
      RATE_LIMIT_PER_USER: 1,
      RATE_LIMIT_PER_ADDRESS: 1,
    });
    for (let i = 0; i < 3; i++) {
      expect((await request(a.app).post('/mcp').set('X-Test-User', 'alice').send({})).status).toBe(200);
    }
  });

  it('refuses (500) rather than skips when perUser runs before authentication', async () => {
    const a = instance(undefined, keys, {});
    expect((await request(a.app).post('/mcp').send({})).status).toBe(500);
  });
});
