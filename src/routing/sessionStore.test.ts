/**
 * SessionStore.refresh on a real Redis: every active session's record gets its last activity and
 * a fresh TTL, however many there are (they go out a batch at a time), and each user's session
 * index keeps its TTL too.
 */
import { randomBytes } from 'node:crypto';
import { createLogger } from '../observability/logger.js';
import { connectRedis, type RedisConnections } from '../redis/connections.js';
import { createKeyspace } from '../redis/keys.js';
import { removeKeysWithPrefix } from '../redis/removePrefix.js';
import { redisSettings } from '../redis/settings.js';
import { SessionStore, type SessionRef } from './sessionStore.js';

const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const prefix = `session-store-unit-${randomBytes(4).toString('hex')}`;
const keys = createKeyspace(prefix);
const TTL_MS = 60_000;
let conns: RedisConnections;

beforeAll(async () => {
  conns = await connectRedis(redisSettings({ REDIS_URL }), createLogger('silent'), 'session-store-unit');
});
afterAll(async () => {
  await removeKeysWithPrefix(redisSettings({ REDIS_URL }), prefix);
  await conns.close();
});

test('refresh reaches every session of a large set, in several batches, and each user index', async () => {
  const store = new SessionStore(conns.command, keys, TTL_MS);
  // More than two batches' worth, over three users.
  const refs: SessionRef[] = Array.from({ length: 700 }, (_, i) => ({ u: `u${i % 3}`, sessionId: `s${i}` }));
  await Promise.all(refs.map((ref) => store.create(ref, { owner: 'o', host: 'h', created: 1 })));
  // Shorten every TTL, so the refresh visibly pushes them forward.
  await Promise.all([
    ...refs.map((r) => conns.command.pexpire(keys.sessionMeta(r.u, r.sessionId), 1_000)),
    ...['u0', 'u1', 'u2'].map((u) => conns.command.pexpire(keys.userSessions(u), 1_000)),
  ]);

  await store.refresh(refs.map((r, i) => ({ ...r, lastActivity: 1_000 + i })));

  const metas = await Promise.all(refs.map((r) => store.load(r)));
  expect(metas.map((m) => m?.seen)).toEqual(refs.map((_, i) => 1_000 + i));
  const ttls = await Promise.all(refs.map((r) => conns.command.pttl(keys.sessionMeta(r.u, r.sessionId))));
  expect(ttls.filter((t) => t <= 1_000)).toEqual([]);
  for (const u of ['u0', 'u1', 'u2']) {
    expect(await conns.command.pttl(keys.userSessions(u))).toBeGreaterThan(1_000);
    // The index's scores are the sessions' last activity (ZADD XX: no entry is added).
    const scores = await conns.command.zrange(keys.userSessions(u), 0, -1, 'WITHSCORES');
    expect(scores.length).toBe(2 * refs.filter((r) => r.u === u).length);
    expect(Number(scores[1])).toBeGreaterThanOrEqual(1_000);
  }
});

test('refresh keeps a bounded number of commands in flight, whatever the number of sessions', async () => {
  let inFlight = 0;
  let most = 0;
  const counting = new Proxy(conns.command, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver) as unknown;
      if (typeof value !== 'function' || !['hset', 'pexpire', 'zadd'].includes(String(name))) return value;
      return (...args: unknown[]) => {
        most = Math.max(most, ++inFlight);
        return (value as (...a: unknown[]) => Promise<unknown>).apply(target, args).finally(() => inFlight--);
      };
    },
  });
  const store = new SessionStore(counting, keys, TTL_MS);
  const refs = Array.from({ length: 2_000 }, (_, i) => ({ u: 'bounded', sessionId: `b${i}`, lastActivity: i }));
  await store.refresh(refs);
  expect(inFlight).toBe(0);
  // One batch's commands (5 per session) at most, far below the 10,000 of all at once.
  expect(most).toBeGreaterThan(0);
  expect(most).toBeLessThanOrEqual(5 * 256);
  await expect(store.refresh([])).resolves.toBeUndefined();
});
