/**
 * Passivation on one routing instance over a real Redis, driven through the mesh's own envelopes:
 * the LRU keeps at most `maxLiveSessions` servers in memory and never drops a busy one, and a
 * session rebuilt from Redis keeps its log level, its resource subscriptions, its client
 * capabilities and its event log.
 */
import { randomBytes } from 'node:crypto';
import type { InMemoryServerEventBus, JSONRPCMessage } from '@modelcontextprotocol/server';
import { changeNotification } from '../mcp/resources/subscriptions.js';
import { createLogger } from '../observability/logger.js';
import { createKeyspace, type Keyspace } from '../redis/keys.js';
import { removeKeysWithPrefix } from '../redis/removePrefix.js';
import { redisSettings } from '../redis/settings.js';
import { decode, encode, OutboundHeaderSchema, type ReplyHeader } from './envelope.js';
import { parseEventId } from './eventLog.js';
import { startEverythingRouting, type EverythingRouting } from '../test/everythingRouting.js';
import type { RoutingInstance } from './instance.js';
import type { SessionRef } from './sessionStore.js';

const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const log = createLogger('silent');
const prefix = `passivation-unit-${randomBytes(4).toString('hex')}`;
const caller = { userId: 'alice', clientId: 'unit', scopes: [] };
const MAX_LIVE = 2;

let keys: Keyspace;
let mesh: EverythingRouting;
let events: InMemoryServerEventBus;
let routing: RoutingInstance;
let passivated = 0;
let rehydrated = 0;

beforeAll(async () => {
  keys = createKeyspace(prefix);
  mesh = await startEverythingRouting(redisSettings({ REDIS_URL }), keys, log, 'passivation-unit', {
    maxLiveSessions: MAX_LIVE,
    onSessionPassivated: () => passivated++,
    onSessionRehydrated: () => rehydrated++,
  });
  ({ routing, events } = mesh);
  routing.forwardChangesToPassivated(events, changeNotification);
});

afterAll(async () => {
  await mesh.stop();
  await removeKeysWithPrefix(redisSettings({ REDIS_URL }), prefix);
});

interface Reply {
  header: ReplyHeader;
  message: JSONRPCMessage | undefined;
}

/** One client request through the mesh, as a relay sends it; `onMessage` sees every reply as it arrives. */
function request(
  ref: SessionRef,
  message: object,
  opts: { resumable?: boolean; onReply?: (r: Reply) => void } = {},
): Promise<Reply[]> {
  return new Promise((resolve, reject) => {
    const replies: Reply[] = [];
    const reply = routing.relay.open({
      onReply: (header, body) => {
        const r = { header, message: body === undefined ? undefined : (JSON.parse(body) as JSONRPCMessage) };
        replies.push(r);
        opts.onReply?.(r);
        if (header.type !== 'msg' && header.type !== 'alive') resolve(replies);
        else if (header.type === 'msg' && header.final === true) resolve(replies);
      },
      onTimeout: () => reject(new Error('relay timed out')),
    });
    const header = {
      type: 'msg' as const,
      relayInstance: routing.instanceId,
      relayId: reply,
      caller,
      ...(opts.resumable ? { resumable: true } : {}),
    };
    routing.deliver(ref, encode(header, JSON.stringify({ jsonrpc: '2.0', ...message }))).catch(reject);
  });
}

/** A message without a reply channel (a notification, or the client's answer to a server request). */
async function notify(ref: SessionRef, message: object): Promise<void> {
  expect(
    await routing.deliver(
      ref,
      encode(
        { type: 'msg', relayInstance: routing.instanceId, caller },
        JSON.stringify({ jsonrpc: '2.0', ...message }),
      ),
    ),
  ).toBe('delivered');
}

let nextId = 1;
const final = (replies: Reply[]) =>
  replies[replies.length - 1]!.message as { result?: Record<string, unknown>; error?: { message: string } };
const toolText = (replies: Reply[]) => (final(replies).result?.['content'] as Array<{ text: string }>)[0]!.text;

async function openSession(capabilities: object = {}): Promise<SessionRef> {
  const init = {
    jsonrpc: '2.0',
    id: 0,
    method: 'initialize',
    params: { protocolVersion: '2025-11-25', capabilities, clientInfo: { name: 'unit', version: '1' } },
  };
  const ref = await routing.createSession(caller, JSON.stringify(init));
  const replies = await request(ref, init);
  expect(final(replies).result?.['protocolVersion']).toBe('2025-11-25');
  await notify(ref, { method: 'notifications/initialized' });
  return ref;
}

/** Calls sampleLLM; `samplingId` resolves with the id of the sampling request the tool sends the client. */
function callSampleLLM(
  ref: SessionRef,
  prompt: string,
): { call: Promise<Reply[]>; samplingId: Promise<string | number> } {
  let asked!: (id: string | number) => void;
  const samplingId = new Promise<string | number>((r) => (asked = r));
  const call = request(
    ref,
    { id: nextId++, method: 'tools/call', params: { name: 'sampleLLM', arguments: { prompt } } },
    {
      onReply: (r) =>
        r.message &&
        'method' in r.message &&
        r.message.method === 'sampling/createMessage' &&
        'id' in r.message &&
        asked(r.message.id),
    },
  );
  return { call, samplingId };
}

const echo = async (ref: SessionRef, text: string) =>
  toolText(
    await request(ref, { id: nextId++, method: 'tools/call', params: { name: 'echo', arguments: { message: text } } }),
  );

/** Collects what the session's GET stream would receive (its outbound channel). */
async function outbound(ref: SessionRef): Promise<{
  got: Array<{ e?: string; message: { method: string; params?: { uri?: string } } }>;
  stop(): Promise<void>;
}> {
  const got: Array<{ e?: string; message: { method: string; params?: { uri?: string } } }> = [];
  const stop = await routing.bus.subscribe(keys.sessionOutbound(ref.u, ref.sessionId), (payload) => {
    const { header, body } = decode(OutboundHeaderSchema, payload);
    if (header.type === 'msg' && body !== undefined)
      got.push({ e: header.eventId, message: JSON.parse(body) as { method: string } });
  });
  return { got, stop };
}

async function until(what: string, check: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('passivation (one instance, real Redis)', () => {
  test('at most maxLiveSessions servers stay in memory, least recently used go first, a busy one never', async () => {
    const before = passivated;
    const s1 = await openSession();
    const s2 = await openSession();
    const s3 = await openSession();
    expect(routing.liveCount).toBe(MAX_LIVE);
    expect([routing.isLive(s1), routing.isLive(s2), routing.isLive(s3)]).toEqual([false, true, true]);
    expect(passivated - before).toBeGreaterThanOrEqual(1);

    // s2 gets busy: a call that is still running (its progress has arrived).
    let progressed!: () => void;
    const running = new Promise<void>((r) => (progressed = r));
    const slow = request(
      s2,
      {
        id: nextId++,
        method: 'tools/call',
        params: { name: 'longRunningOperation', arguments: { duration: 1, steps: 5 }, _meta: { progressToken: 'p' } },
      },
      {
        onReply: (r) =>
          r.message && 'method' in r.message && r.message.method === 'notifications/progress' && progressed(),
      },
    );
    await running;
    // s1 wakes up; s2 is now the least recently used, but busy: s3 goes instead.
    expect(await echo(s1, 'one')).toBe('Echo: one');
    expect([routing.isLive(s1), routing.isLive(s2), routing.isLive(s3)]).toEqual([true, true, false]);
    // And again: s3 wakes up, s2 is still busy, s1 goes.
    expect(await echo(s3, 'three')).toBe('Echo: three');
    expect([routing.isLive(s1), routing.isLive(s2), routing.isLive(s3)]).toEqual([false, true, true]);
    expect(toolText(await slow)).toContain('completed');
    // Idle again, s2 is the first to go when s1 comes back.
    expect(await echo(s1, 'one again')).toBe('Echo: one again');
    expect([routing.isLive(s1), routing.isLive(s2), routing.isLive(s3)]).toEqual([true, false, true]);
  });

  test('a session waiting for the client (sampling) is not passivated while others come and go', async () => {
    const waiting = await openSession({ sampling: {} });
    const { call, samplingId } = callSampleLLM(waiting, 'hold on');
    const id = await samplingId;
    for (let i = 0; i < 4; i++) await openSession();
    expect(routing.isLive(waiting)).toBe(true);
    await notify(waiting, { id, result: { role: 'assistant', content: { type: 'text', text: 'fine' }, model: 'm' } });
    expect(toolText(await call)).toContain('fine');
  });

  test('a rehydrated session keeps its log level, subscriptions, client capabilities and event log', async () => {
    const s = await openSession({ sampling: {} });
    const out = await outbound(s);
    const uri = 'test://static/resource/7';
    expect(
      final(await request(s, { id: nextId++, method: 'logging/setLevel', params: { level: 'error' } })).result,
    ).toEqual({});
    expect(final(await request(s, { id: nextId++, method: 'resources/subscribe', params: { uri } })).result).toEqual(
      {},
    );
    // A resumable request stream, logged before the session leaves memory.
    const logged = await request(
      s,
      {
        id: nextId++,
        method: 'tools/call',
        params: {
          name: 'longRunningOperation',
          arguments: { duration: 0.02, steps: 2 },
          _meta: { progressToken: 'q' },
        },
      },
      { resumable: true },
    );
    const firstEvent = logged.find((r) => r.header.type === 'msg' && r.header.eventId !== undefined)!.header as {
      eventId: string;
    };
    const loggedIds = logged.flatMap((r) =>
      r.header.type === 'msg' && r.header.eventId !== undefined ? [r.header.eventId] : [],
    );
    expect(loggedIds.length).toBeGreaterThanOrEqual(3);

    // Two newer sessions push it out of memory.
    const other = await openSession();
    await openSession();
    expect(routing.isLive(s)).toBe(false);
    const wokenBefore = rehydrated;

    // Passivated: change events still reach its GET stream, filtered by its subscriptions, logged.
    events.publish({ kind: 'resource_updated', uri: 'test://static/resource/8' });
    events.publish({ kind: 'resource_updated', uri });
    events.publish({ kind: 'tools_list_changed' });
    await until('change notifications', () => out.got.length >= 2);
    // (Each event is forwarded on its own, as a live server does: their order may differ.)
    expect(out.got.map((g) => [g.message.method, g.message.params?.uri]).sort()).toEqual([
      ['notifications/resources/updated', uri],
      ['notifications/tools/list_changed', undefined],
    ]);
    expect(out.got.every((g) => g.e !== undefined)).toBe(true);
    expect(routing.isLive(s)).toBe(false);

    // The event log survived: the stream logged before passivation replays from its first event.
    const replay = await routing.events.after(s, parseEventId(firstEvent.eventId)!);
    expect(replay.known).toBe(true);
    expect(replay.ended).toBe(true);
    expect(replay.events.map((e) => e.id)).toEqual(loggedIds.slice(1));

    // Log level: the level set before passivation still filters the rebuilt server's logs...
    const quiet = await request(s, {
      id: nextId++,
      method: 'tools/call',
      params: { name: 'test_tool_with_logging', arguments: {} },
    });
    expect(routing.isLive(s)).toBe(true);
    expect(rehydrated - wokenBefore).toBe(1);
    expect(
      quiet.filter((r) => r.message && 'method' in r.message && r.message.method === 'notifications/message'),
    ).toHaveLength(0);
    expect(toolText(quiet)).toContain('successfully');
    // ...while a session that set none gets all three.
    const loud = await request(other, {
      id: nextId++,
      method: 'tools/call',
      params: { name: 'test_tool_with_logging', arguments: {} },
    });
    expect(
      loud.filter((r) => r.message && 'method' in r.message && r.message.method === 'notifications/message'),
    ).toHaveLength(3);

    // Client capabilities (from the replayed initialize): sampling is still declared.
    const { call, samplingId } = callSampleLLM(s, 'still there?');
    await notify(s, {
      id: await samplingId,
      result: { role: 'assistant', content: { type: 'text', text: 'yes' }, model: 'm' },
    });
    expect(toolText(await call)).toContain('yes');

    // Subscriptions, now served by the rebuilt server.
    out.got.length = 0;
    events.publish({ kind: 'resource_updated', uri });
    await until('resource update from the live server', () => out.got.length >= 1);
    expect(out.got[0]!.message).toEqual({ jsonrpc: '2.0', method: 'notifications/resources/updated', params: { uri } });
    await out.stop();
  });

  test('messages that arrive while the session is being rebuilt all reach it; a delete needs no rebuild', async () => {
    const s = await openSession();
    await openSession();
    await openSession();
    expect(routing.isLive(s)).toBe(false);
    const calls = Array.from({ length: 5 }, (_, i) => echo(s, `m${i}`));
    expect(await Promise.all(calls)).toEqual(['Echo: m0', 'Echo: m1', 'Echo: m2', 'Echo: m3', 'Echo: m4']);

    const gone = await openSession();
    await openSession();
    await openSession();
    expect(routing.isLive(gone)).toBe(false);
    const woken = rehydrated;
    expect(await routing.endSession(gone)).toBe('deleted');
    expect(rehydrated).toBe(woken);
    expect(await routing.sessionExists(gone)).toBe(false);
    expect(routing.isLive(gone)).toBeUndefined();
  });

  test('WebSocket sessions stay live; slow calls outlive the relay timeout on them and on plain sessions: their host keeps beating', async () => {
    // An instance of its own with a short relay timeout: a relay hearing nothing for 900 ms gives up.
    const { routing: r2, stop: stopR2 } = await startEverythingRouting(
      redisSettings({ REDIS_URL }),
      keys,
      log,
      'passivation-unit-2',
      { relayTimeoutMs: 900, maxLiveSessions: 1 },
    );
    try {
      const init = {
        jsonrpc: '2.0',
        id: 0,
        method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'unit', version: '1' } },
      };
      const ask = (ref: SessionRef, message: object) =>
        new Promise<Reply[]>((resolve, reject) => {
          const replies: Reply[] = [];
          const reply = r2.relay.open({
            onReply: (header, body) => {
              replies.push({ header, message: body === undefined ? undefined : (JSON.parse(body) as JSONRPCMessage) });
              if (header.type !== 'msg' && header.type !== 'alive') resolve(replies);
              else if (header.type === 'msg' && header.final === true) resolve(replies);
            },
            onTimeout: () => reject(new Error('relay timed out')),
          });
          r2.deliver(
            ref,
            encode(
              { type: 'msg', relayInstance: r2.instanceId, relayId: reply, caller },
              JSON.stringify({ jsonrpc: '2.0', ...message }),
            ),
          ).catch(reject);
        });
      const socket = await r2.createSession(caller, undefined, { websocket: true });
      const plain = await r2.createSession(caller, JSON.stringify(init));
      for (const ref of [socket, plain])
        expect(final(await ask(ref, init)).result?.['protocolVersion']).toBe('2025-11-25');
      const slow = {
        method: 'tools/call',
        params: { name: 'longRunningOperation', arguments: { duration: 1.5, steps: 1 } },
      };
      const [a, b] = await Promise.all([ask(socket, { id: 1, ...slow }), ask(plain, { id: 1, ...slow })]);
      for (const replies of [a, b]) {
        expect(replies.some((r) => r.header.type === 'alive')).toBe(true);
        expect(toolText(replies)).toContain('completed');
      }
      // A WebSocket session is never passivated: with room for one server, a second plain session
      // pushes the first out, and the socket's stays.
      const other = await r2.createSession(caller, JSON.stringify(init));
      expect(final(await ask(other, init)).result?.['protocolVersion']).toBe('2025-11-25');
      expect([r2.isLive(socket), r2.isLive(plain), r2.isLive(other)]).toEqual([true, false, true]);
      expect(r2.liveCount).toBe(2);
    } finally {
      await stopR2();
    }
  });
});
