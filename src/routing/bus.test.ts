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

describe('Bus addressing (any PubSub)', () => {
  /** A PubSub that records what the bus asks of Redis and lets a test deliver messages. */
  function fakePubSub() {
    const calls: string[] = [];
    let deliver: (channel: string, payload: string) => void = () => undefined;
    let lose: (isLost: (channel: string) => boolean) => void = () => undefined;
    const pubsub = {
      sharded: false,
      publish: async (channel: string, payload: string) => (
        calls.push(`publish ${channel} ${JSON.stringify(payload)}`),
        1
      ),
      subscribe: async (channel: string) => void calls.push(`subscribe ${channel}`),
      unsubscribe: async (channel: string) => void calls.push(`unsubscribe ${channel}`),
      receivers: async () => 0,
      onMessage: (l: typeof deliver) => void (deliver = l),
      onLost: (l: typeof lose) => void (lose = l),
    };
    return {
      pubsub,
      calls,
      deliver: (c: string, p: string) => deliver(c, p),
      lose: (f: (c: string) => boolean) => lose(f),
    };
  }
  const keys = createKeyspace('p');

  test('a reply address is published on its instance channel, the relay id on the first line', async () => {
    const f = fakePubSub();
    const b = new Bus(f.pubsub, keys, log);
    await b.publish(keys.reply('inst-1', 'a7'), '{"t":"msg"}\n{}');
    await b.publish('p:ch:in:{u:s}', 'x');
    expect(f.calls).toEqual(['publish p:ch:reply:inst-1 "a7\\n{\\"t\\":\\"msg\\"}\\n{}"', 'publish p:ch:in:{u:s} "x"']);
  });

  test('the relay listens to everything on its channel; an address subscriber hears its relay id only', async () => {
    const f = fakePubSub();
    const b = new Bus(f.pubsub, keys, log);
    const all: string[] = [];
    const one: string[] = [];
    const stop = await b.listen(keys.replyChannel('me'), (relayId, payload) => all.push(`${relayId}:${payload}`));
    const unsubscribe = await b.subscribe(keys.reply('me', 'b2'), (payload) => one.push(payload));
    f.deliver(keys.replyChannel('me'), 'a1\nfirst');
    f.deliver(keys.replyChannel('me'), 'b2\nsecond');
    expect(all).toEqual(['a1:first', 'b2:second']);
    expect(one).toEqual(['second']);
    // One Redis subscription for both, released when the last user goes.
    await unsubscribe();
    expect(f.calls).toEqual([`subscribe ${keys.replyChannel('me')}`]);
    await stop();
    expect(f.calls).toEqual([`subscribe ${keys.replyChannel('me')}`, `unsubscribe ${keys.replyChannel('me')}`]);
  });

  test('a message on a channel nobody holds (restored by a reconnect) drops that subscription', () => {
    const f = fakePubSub();
    new Bus(f.pubsub, keys, log);
    f.deliver('p:ch:in:{u:gone}', 'x');
    expect(f.calls).toEqual(['unsubscribe p:ch:in:{u:gone}']);
  });

  test('lost subscriptions are reported to the owner as the PubSub names them', async () => {
    const f = fakePubSub();
    const b = new Bus(f.pubsub, keys, log);
    const reports: boolean[] = [];
    b.onLost((isLost) => reports.push(isLost('p:ch:in:{u:1}'), isLost('p:ch:in:{u:2}')));
    f.lose((ch) => ch.endsWith('{u:1}'));
    expect(reports).toEqual([true, false]);
  });
});
