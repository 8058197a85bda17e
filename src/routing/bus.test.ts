/**
 * The bus on a real Redis, through the connections the server itself makes (connectRedis).
 */
import { createLogger } from '../observability/logger.js';
import { connectRedis, type RedisConnections } from '../redis/connections.js';
import { createKeyspace } from '../redis/keys.js';
import { redisSettings } from '../redis/settings.js';
import { Bus } from './bus.js';

const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const log = createLogger('silent');
const channel = `bus-test:${process.pid}:${Math.random().toString(36).slice(2)}`;

let conns: RedisConnections;
let bus: Bus;

beforeAll(async () => {
  conns = await connectRedis(redisSettings({ REDIS_URL }), log, 'bus-test');
  bus = new Bus(conns.pubsub, createKeyspace(`bus-test-${process.pid}`), log);
});
afterAll(() => conns.close());

describe('Bus on real Redis', () => {
  test('a burst of publishes in one turn leaves in one corked write, in order, and each learns its receiver count', async () => {
    const got: string[] = [];
    let all!: () => void;
    const arrived = new Promise<void>((r) => (all = r));
    const unsubscribe = await bus.subscribe(channel, (p) => {
      got.push(p);
      if (got.length === 100) all();
    });
    const socket = conns.command.stream;
    expect(socket.writableCorked).toBe(0);
    const counts = Array.from({ length: 100 }, (_, i) => bus.publish(channel, `m${i}`));
    // Held back until the event loop's check phase, then written together.
    expect(socket.writableCorked).toBe(1);
    expect(socket.writableLength).toBeGreaterThan(0);
    await new Promise((r) => setImmediate(r));
    expect(socket.writableCorked).toBe(0);
    expect(await Promise.all(counts)).toEqual(Array(100).fill(1));
    await arrived;
    expect(got).toEqual(Array.from({ length: 100 }, (_, i) => `m${i}`));
    await unsubscribe();
  });

  test('publishes and other commands interleave in program order across turns', async () => {
    const key = `${channel}:k`;
    await bus.publish(channel, 'x');
    await conns.command.set(key, '1', 'PX', 10_000);
    const [n, value] = await Promise.all([bus.publish(channel, 'y'), conns.command.get(key)]);
    expect(n).toBe(0);
    expect(value).toBe('1');
    await conns.command.del(key);
  });
});

describe('the command connection', () => {
  test('corks for other commands of the turn too, and leaves pipelines and MULTI in order', async () => {
    const key = `${channel}:multi`;
    const socket = conns.command.stream;
    const got = Promise.all([
      conns.command.set(key, 'a', 'PX', 10_000),
      conns.command.multi().append(key, 'b').get(key).exec(),
      conns.command.get(key),
    ]);
    expect(socket.writableCorked).toBe(1);
    const [set, multi, last] = await got;
    expect(set).toBe('OK');
    expect(multi?.map(([, v]) => v)).toEqual([2, 'ab']);
    expect(last).toBe('ab');
    await conns.command.del(key);
  });
});
