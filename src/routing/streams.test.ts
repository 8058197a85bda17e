/**
 * The transports' view of the mesh (SessionStreams) on a real Redis, with two instances: the
 * GET-stream lease and its takeover, a resumed GET stream joining replay and live traffic, the
 * outbound subscription's decoding, resuming a request stream whose host is gone, request relays
 * that are not delivered, and the session list.
 */
import { McpServer } from '@modelcontextprotocol/server';
import { createLogger } from '../observability/logger.js';
import { connectRedis, type RedisConnections } from '../redis/connections.js';
import { createKeyspace } from '../redis/keys.js';
import { redisSettings } from '../redis/settings.js';
import { encode } from './envelope.js';
import { GET_STREAM, requestStreamId } from './eventLog.js';
import { RoutingInstance } from './instance.js';
import { parseLastEventId, SessionStreams, type EventSink } from './streams.js';

const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const log = createLogger('silent');
const keys = createKeyspace(`streams-test-${process.pid}-${Math.random().toString(36).slice(2)}`);
const caller = { userId: 'user-1', clientId: 'client-1', scopes: [] };
const RELAY_TIMEOUT_MS = 400;

interface Member {
  conns: RedisConnections;
  routing: RoutingInstance;
  streams: SessionStreams;
}
let a: Member;
let b: Member;

async function member(name: string): Promise<Member> {
  const conns = await connectRedis(redisSettings({ REDIS_URL }), log, name);
  const routing = new RoutingInstance(conns.command, conns.pubsub, keys, log, {
    serverFactory: () => new McpServer({ name: 'streams-test', version: '1.0.0' }, { capabilities: {} }),
    relayTimeoutMs: RELAY_TIMEOUT_MS,
    idleTtlMs: 60_000,
    maxSessionsPerUser: 10,
    maxInflightPerSession: 10,
    maxPendingClientRequests: 10,
  });
  await routing.start();
  return { conns, routing, streams: new SessionStreams(routing, log, { getStreamLeaseMs: 30_000 }) };
}

beforeAll(async () => {
  a = await member('streams-test-a');
  b = await member('streams-test-b');
});
afterAll(async () => {
  for (const m of [a, b]) {
    await m.routing.stop();
    await m.conns.close();
  }
});

/** An EventSink that records what it hears; `until(n)` resolves once n messages arrived. */
function recorder() {
  const messages: Array<[string, string | undefined]> = [];
  let ended!: () => void;
  const end = new Promise<void>((r) => (ended = r));
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  const sink: EventSink = {
    message: (body, id) => {
      messages.push([body, id]);
      for (const w of waiters) if (messages.length >= w.n) w.resolve();
    },
    end: () => ended(),
  };
  const until = (n: number) =>
    messages.length >= n ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ n, resolve }));
  return { sink, messages, end, until };
}

const refOf = (sessionId: string) => ({ u: 'owner', sessionId });
const outbound = (sessionId: string) => keys.sessionOutbound('owner', sessionId);

describe('SessionStreams', () => {
  test('one GET stream per session: a live holder keeps it, a dead holder is taken over', async () => {
    const ref = refOf('lease');
    const held = await a.streams.claimGetStream(ref);
    expect(held).toBeDefined();
    expect(await b.streams.claimGetStream(ref)).toBeUndefined();
    await held!.close();
    const next = await b.streams.claimGetStream(ref);
    expect(next).toBeDefined();

    // B's instance dies holding the lease: its liveness key is gone, its lease is not.
    const dead = await member('streams-test-dead');
    await next!.close();
    const orphan = await dead.streams.claimGetStream(ref);
    expect(orphan).toBeDefined();
    dead.routing.abandon();
    await a.conns.command.del(keys.instance(dead.routing.instanceId));
    const taken = await a.streams.claimGetStream(ref);
    expect(taken).toBeDefined();
    // The dead holder's release does not touch the lease it lost.
    await orphan!.close();
    expect(await b.streams.claimGetStream(ref)).toBeUndefined();
    await taken!.close();
    await dead.conns.close();
  });

  test('a resumed GET stream replays what was missed, then goes on live, each event once', async () => {
    const ref = refOf('resume-get');
    const first = await a.routing.events.append(ref, GET_STREAM, 'msg', '{"n":1}');
    const second = await a.routing.events.append(ref, GET_STREAM, 'msg', '{"n":2}');
    const stream = await b.streams.claimGetStream(ref);
    const got = recorder();
    await stream!.start(parseLastEventId(first), got.sink);
    // Published live after the replay: a repeat of the replayed event is dropped, a new one passes.
    await a.routing.bus.publish(outbound(ref.sessionId), encode({ type: 'msg', eventId: second }, '{"n":2}'));
    const third = await a.routing.events.append(ref, GET_STREAM, 'msg', '{"n":3}');
    await a.routing.bus.publish(outbound(ref.sessionId), encode({ type: 'msg', eventId: third }, '{"n":3}'));
    await got.until(2);
    await a.routing.bus.publish(outbound(ref.sessionId), encode({ type: 'closed' }));
    await got.end;
    expect(got.messages).toEqual([
      ['{"n":2}', second],
      ['{"n":3}', third],
    ]);
    await stream!.close();
  });

  test('the outbound subscription drops malformed envelopes and reports the session end', async () => {
    const ref = refOf('outbound');
    const got = recorder();
    const stop = await a.streams.listenOutbound(ref, got.sink);
    await b.routing.bus.publish(outbound(ref.sessionId), 'not an envelope\n{"x":0}');
    await b.routing.bus.publish(outbound(ref.sessionId), encode({ type: 'msg' }, '{"x":1}'));
    await got.until(1);
    await b.routing.bus.publish(outbound(ref.sessionId), encode({ type: 'closed' }));
    await got.end;
    expect(got.messages).toEqual([['{"x":1}', undefined]]);
    await stop();
  });

  test('a request stream resumed after its host went silent ends, and is not offered again', async () => {
    const ref = refOf('resume-request');
    const streamId = requestStreamId('gone-instance', '7');
    await a.routing.events.append(ref, streamId, 'open');
    const progress = await a.routing.events.append(ref, streamId, 'msg', '{"p":1}');
    const cursor = parseLastEventId(`${streamId}_0-0`)!;
    expect(cursor.stream).toBe('request');
    expect(
      await b.streams.resumeRequestStream(ref, parseLastEventId(`${requestStreamId('other', '1')}_0-0`)!),
    ).toBeUndefined();

    const resumed = await b.streams.resumeRequestStream(ref, cursor);
    const got = recorder();
    resumed!.start(got.sink);
    // Nobody answers: after the relay timeout the stream is marked ended.
    await got.end;
    expect(got.messages).toEqual([['{"p":1}', progress]]);
    expect(await a.streams.resumeRequestStream(ref, parseLastEventId(progress)!)).toBeUndefined();
  });

  test('a resumed request stream ends with the answer its host publishes', async () => {
    const ref = refOf('resume-answer');
    const streamId = requestStreamId('holder', '9');
    const opened = await a.routing.events.append(ref, streamId, 'open');
    const resumed = await b.streams.resumeRequestStream(ref, parseLastEventId(opened)!);
    const got = recorder();
    resumed!.start(got.sink);
    const answer = await a.routing.events.append(ref, streamId, 'msg', '{"result":{}}', true);
    await a.routing.bus.publish(
      keys.reply('holder', '9'),
      encode({ type: 'msg', final: true, eventId: answer }, '{"result":{}}'),
    );
    await got.end;
    expect(got.messages).toEqual([['{"result":{}}', answer]]);
  });

  test('a request that cannot be delivered leaves no relay behind', async () => {
    const before = a.routing.relay.size;
    const request = a.streams.request(
      refOf('no-such-session'),
      '{"jsonrpc":"2.0","id":1,"method":"ping"}',
      { caller },
      {
        onReply: () => undefined,
        onTimeout: () => undefined,
      },
    );
    expect(request.primingEventId).toMatch(new RegExp(`^${a.routing.instanceId}\\.[0-9a-z]+_0-0$`));
    expect(await request.delivery).toBe('gone');
    expect(a.routing.relay.size).toBe(before);
  });

  test('lists the caller’s sessions with their transport, and only theirs', async () => {
    const http = await a.streams.createSession(caller, '{"jsonrpc":"2.0","id":0,"method":"initialize"}');
    const legacy = await b.streams.createSession(caller, undefined, { legacySse: true });
    const listed = await b.streams.listSessions(caller.userId, caller.clientId);
    expect(listed.map((s) => [s.id, s.transport, s.host]).sort()).toEqual(
      [
        [http.sessionId, 'streamable-http', a.routing.instanceId],
        [legacy.sessionId, 'sse', b.routing.instanceId],
      ].sort(),
    );
    expect(await a.streams.listSessions(caller.userId, 'another-client')).toEqual([]);
    expect(await b.streams.end(http)).toBe('deleted');
    expect(await a.streams.end(legacy)).toBe('deleted');
    expect(await a.streams.listSessions(caller.userId, caller.clientId)).toEqual([]);
  });
});
