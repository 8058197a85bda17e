/**
 * The change bus on a real Redis: one subscription per instance, every event to every instance's
 * listeners exactly once, and nothing from a malformed payload.
 */
import { randomBytes } from 'node:crypto';
import type { ServerEvent } from '@modelcontextprotocol/server';
import { captureLogs } from '../mcp/testing/connectClient.js';
import { connectRedis, type RedisConnections } from '../redis/connections.js';
import { createKeyspace } from '../redis/keys.js';
import { redisSettingsFor } from '../test/cluster.js';
import { Bus } from './bus.js';
import { RedisServerEventBus } from './serverEventBus.js';

const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const channel = `t${randomBytes(5).toString('hex')}:ch:server-events`;
const logs = captureLogs();

const instances: Array<{ conns: RedisConnections; bus: Bus; events: RedisServerEventBus }> = [];
beforeAll(async () => {
  for (let i = 0; i < 2; i++) {
    const conns = await connectRedis(redisSettingsFor({ REDIS_URL }), logs.log, 'event-bus-test');
    const bus = new Bus(conns.pubsub, createKeyspace(channel.split(':')[0]!), logs.log);
    const events = new RedisServerEventBus(bus, channel, logs.log);
    await events.start();
    instances.push({ conns, bus, events });
  }
});
afterAll(async () => {
  for (const i of instances) {
    await i.events.stop();
    await i.conns.close();
  }
});

/** Resolves with the first `n` events a listener gets. */
function collect(events: RedisServerEventBus, n: number): Promise<ServerEvent[]> {
  const got: ServerEvent[] = [];
  return new Promise((resolve) => {
    const stop = events.subscribe((e) => {
      got.push(e);
      if (got.length === n) {
        stop();
        resolve(got);
      }
    });
  });
}

test('an event published on one instance reaches the listeners of every instance, in order, over one subscription each', async () => {
  const [a, b] = instances as [(typeof instances)[0], (typeof instances)[0]];
  const onA = collect(a.events, 2);
  const onB = collect(b.events, 2);
  const alsoOnB = collect(b.events, 2);
  a.events.publish({ kind: 'tools_list_changed' });
  a.events.publish({ kind: 'resource_updated', uri: 'test://static/resource/1' });
  const expected = [{ kind: 'tools_list_changed' }, { kind: 'resource_updated', uri: 'test://static/resource/1' }];
  expect(await onA).toEqual(expected);
  expect(await onB).toEqual(expected);
  expect(await alsoOnB).toEqual(expected);
  // Listeners come and go locally; Redis sees one subscription per instance.
  expect(a.bus.channelCount).toBe(1);
  const [, subscribers] = (await a.conns.command.pubsub('NUMSUB', channel)) as [string, number];
  expect(Number(subscribers)).toBe(2);
});

test('a malformed payload is dropped with a warning; the next event still arrives', async () => {
  const [a, b] = instances as [(typeof instances)[0], (typeof instances)[0]];
  const next = [collect(a.events, 1), collect(b.events, 1)];
  await a.bus.publish(channel, '{"kind":"resource_updated"}'); // no uri
  await a.bus.publish(channel, 'not json');
  a.events.publish({ kind: 'prompts_list_changed' });
  expect(await Promise.all(next)).toEqual([[{ kind: 'prompts_list_changed' }], [{ kind: 'prompts_list_changed' }]]);
  // Each instance dropped both, before the valid event that followed them on the channel.
  expect(logs.lines.filter((l) => l.msg === 'malformed server event dropped')).toHaveLength(4);
});
