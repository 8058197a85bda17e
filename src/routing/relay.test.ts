import { jest } from '@jest/globals';
import RedisMock from 'ioredis-mock';
import type { Redis } from 'ioredis';
import { createLogger } from '../observability/logger.js';
import { createKeyspace } from '../redis/keys.js';
import { ClassicPubSub } from '../redis/pubsub.js';
import { Bus } from './bus.js';
import { encode, type ReplyHeader } from './envelope.js';
import { Relay } from './relay.js';

function setup(timeoutMs = 50) {
  const command = new RedisMock();
  const subscriber = (command as unknown as { duplicate(): Redis }).duplicate();
  const log = createLogger('silent');
  const keys = createKeyspace(`relay${Math.random().toString(36).slice(2)}`);
  const bus = new Bus(new ClassicPubSub(command, subscriber), keys, log);
  const relay = new Relay(bus, keys, 'me', log, timeoutMs);
  return { relay, bus, keys, command, subscriber };
}

describe('Relay', () => {
  test('routes replies to the sink of their relay id until the final one', async () => {
    const { relay, bus, keys, command, subscriber } = setup();
    await relay.start();
    const got: Array<[ReplyHeader, string | undefined]> = [];
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    const id = relay.open({
      onReply: (h, b) => (got.push([h, b]), h.type === 'msg' && h.final && done()),
      onTimeout: () => undefined,
    });
    await bus.publish(keys.reply('me', id), encode({ type: 'msg' }, '{"a":1}'));
    await bus.publish(keys.reply('me', id), encode({ type: 'msg', final: true }, '{"b":2}'));
    await finished;
    expect(got).toEqual([
      [{ type: 'msg' }, '{"a":1}'],
      [{ type: 'msg', final: true }, '{"b":2}'],
    ]);
    expect(relay.size).toBe(0);
    command.disconnect();
    subscriber.disconnect();
  });

  test('a late reply for a released relay is dropped without harm', async () => {
    const { relay, bus, keys, command, subscriber } = setup();
    await relay.start();
    const sink = { onReply: jest.fn(), onTimeout: jest.fn() };
    const id = relay.open(sink);
    relay.release(id);
    await bus.publish(keys.reply('me', id), encode({ type: 'msg', final: true }, '{}'));
    await new Promise((r) => setImmediate(r));
    expect(sink.onReply).not.toHaveBeenCalled();
    command.disconnect();
    subscriber.disconnect();
  });

  test('silence longer than the timeout ends the relay; heartbeats keep it alive', async () => {
    const { relay, bus, keys, command, subscriber } = setup(100);
    await relay.start();
    const quiet = { onReply: jest.fn(), onTimeout: jest.fn() };
    relay.open(quiet);
    let beat!: () => void;
    const beaten = new Promise<void>((r) => (beat = r));
    const busy = { onReply: jest.fn(() => beat()), onTimeout: jest.fn() };
    const busyId = relay.open(busy);
    const t0 = Date.now();
    relay.sweep(t0 + 50);
    expect(quiet.onTimeout).not.toHaveBeenCalled();
    // A heartbeat from the host moves the busy relay's deadline forward.
    await new Promise((r) => setTimeout(r, 60));
    await bus.publish(keys.reply('me', busyId), encode({ type: 'alive' }));
    await beaten;
    relay.sweep(t0 + 150);
    expect(quiet.onTimeout).toHaveBeenCalledTimes(1);
    expect(busy.onTimeout).not.toHaveBeenCalled();
    expect(relay.size).toBe(1);
    command.disconnect();
    subscriber.disconnect();
  });
});
