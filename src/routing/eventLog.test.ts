import RedisMock from 'ioredis-mock';
import { createKeyspace } from '../redis/keys.js';
import { EventLog, GET_STREAM, isAfter, parseEventId, ReplayGate } from './eventLog.js';

const STREAM = '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0.1a';

describe('event ids', () => {
  test('only ids this server issues parse', () => {
    expect(parseEventId(`${STREAM}_17-3`)).toEqual({ streamId: STREAM, entry: [17n, 3n] });
    expect(parseEventId('get_1-0')).toEqual({ streamId: GET_STREAM, entry: [1n, 0n] });
    for (const bad of [
      '',
      'get',
      'get_1',
      'other_1-0',
      `${STREAM}_1-0\nid: x`,
      `../${STREAM}_1-0`,
      `${STREAM}_${'9'.repeat(21)}-0`,
    ]) {
      expect(parseEventId(bad)).toBeUndefined();
    }
    expect(isAfter(`${STREAM}_10-0`, parseEventId(`${STREAM}_9-5`)!)).toBe(true);
    expect(isAfter(`${STREAM}_9-5`, parseEventId(`${STREAM}_9-5`)!)).toBe(false);
    expect(isAfter(`${STREAM}_9-4`, parseEventId(`${STREAM}_9-5`)!)).toBe(false);
  });
});

describe('EventLog', () => {
  test('keeps each stream apart, reports known/ended, and expires with the session', async () => {
    const redis = new RedisMock();
    const keys = createKeyspace(`ev${Math.random().toString(36).slice(2)}`);
    const log = new EventLog(redis, keys, 60_000);
    const ref = { u: 'u1', sessionId: 's1' };
    const open = await log.append(ref, STREAM, 'open');
    const m1 = await log.append(ref, STREAM, 'msg', '{"a":1}');
    await log.append(ref, GET_STREAM, 'msg', '{"n":1}');
    const last = await log.append(ref, STREAM, 'msg', '{"r":1}', true);

    const all = await log.after(ref, parseEventId(open)!);
    expect(all.known).toBe(true);
    expect(all.ended).toBe(true);
    expect(all.events.map((e) => [e.kind, e.body, e.final])).toEqual([
      ['msg', '{"a":1}', false],
      ['msg', '{"r":1}', true],
    ]);
    expect(all.events.map((e) => e.id)).toEqual([m1, last]);
    expect((await log.after(ref, parseEventId(last)!)).events).toEqual([]);
    const get = await log.after(ref, parseEventId('get_0-0')!);
    expect(get.events.map((e) => e.body)).toEqual(['{"n":1}']);
    expect(get.ended).toBe(false);
    // Another session (or user) has its own log.
    expect((await log.after({ u: 'u2', sessionId: 's1' }, parseEventId(open)!)).known).toBe(false);
    expect(await redis.pttl(keys.sessionEvents(ref.u, ref.sessionId))).toBeGreaterThan(0);
  });
});

describe('ReplayGate', () => {
  const id = (n: number) => `${STREAM}_${n}-0`;

  test('holds live events during the replay, then drops the ones the replay already sent', () => {
    const out: string[] = [];
    const gate = new ReplayGate<{ id?: string; v: string }>(
      (i) => out.push(i.v),
      (i) => i.id,
    );
    gate.live({ id: id(3), v: 'live3' });
    gate.live({ id: id(4), v: 'live4' });
    expect(out).toEqual([]);
    gate.release(
      [
        { id: id(2), v: 'log2' },
        { id: id(3), v: 'log3' },
      ],
      parseEventId(id(1)),
    );
    expect(out).toEqual(['log2', 'log3', 'live4']);
    gate.live({ v: 'no-id' });
    gate.live({ id: id(5), v: 'live5' });
    expect(out).toEqual(['log2', 'log3', 'live4', 'no-id', 'live5']);
  });

  test('without a cursor everything passes in order', () => {
    const out: string[] = [];
    const gate = new ReplayGate<{ id?: string; v: string }>(
      (i) => out.push(i.v),
      (i) => i.id,
    );
    gate.live({ id: 'get_5-0', v: 'a' });
    gate.release([], undefined);
    gate.live({ id: 'get_6-0', v: 'b' });
    expect(out).toEqual(['a', 'b']);
  });
});
