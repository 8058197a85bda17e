/**
 * The per-user session cap across two instances (MAX_SESSIONS_PER_USER=3): at the cap a new
 * session ends the user's least recently used idle session, wherever it is hosted; busy sessions
 * (a request in flight, an open GET stream) are passed over; with every session busy the new one is
 * refused; two initializes racing on two instances both get a slot without exceeding the cap.
 */
import { createLogger } from '../observability/logger.js';
import { sessionOwnerKey } from '../redis/keys.js';
import { startCluster, TOKENS, type Cluster } from './cluster.js';
import { openRawSse, type RawSse } from './sseStream.js';
import { WebSocketClientTransport } from './webSocketClientTransport.js';
import { Client } from '@modelcontextprotocol/client';
import { LogLines } from './logLines.js';

const MAX = 3;
const JSON_HEADERS = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };

function metric(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ').pop()) : NaN;
}

describe('per-user session cap across two instances', () => {
  let c: Cluster;
  const logs = { A: new LogLines(), B: new LogLines() };
  const url = (i: 0 | 1) => c.instances[i]!.url;
  /** Each test uses its own user, so its sessions start from zero. */
  const users = ['alice', 'bob'] as const;
  let userIndex = 0;
  let token: string;
  let user: string;

  beforeAll(async () => {
    c = await startCluster(0);
    const env = { MAX_SESSIONS_PER_USER: String(MAX), LOG_LEVEL: 'info' };
    await c.start(env, createLogger('info', { destination: logs.A }));
    await c.start(env, createLogger('info', { destination: logs.B }));
  });
  afterAll(() => c.close());
  beforeEach(async () => {
    user = users[userIndex++ % users.length]!;
    token = TOKENS[user as keyof typeof TOKENS];
    // A user reused by a later test starts with no sessions.
    const left = (await c.keys()).filter((k) => k.includes(sessionOwnerKey(user, 'test-client')));
    // One DEL per key: on a Redis Cluster the keys of different sessions live in different slots.
    await Promise.all(left.map((k) => c.redis.del(k)));
  });

  const auth = () => ({ ...JSON_HEADERS, Authorization: `Bearer ${token}` });

  async function initialize(i: 0 | 1): Promise<Response> {
    return fetch(`${url(i)}/mcp`, {
      method: 'POST',
      headers: auth(),
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: {
          protocolVersion: '2025-11-25',
          capabilities: { sampling: {} },
          clientInfo: { name: 'cap-test', version: '1' },
        },
      }),
    });
  }

  async function open(i: 0 | 1): Promise<string> {
    const res = await initialize(i);
    expect(res.status).toBe(200);
    await res.text();
    return res.headers.get('mcp-session-id')!;
  }

  /** A ping through the other instance: 200 while the session lives, 404 once it is gone. */
  async function ping(sid: string, i: 0 | 1 = 1): Promise<number> {
    const res = await fetch(`${url(i)}/mcp`, {
      method: 'POST',
      headers: { ...auth(), 'Mcp-Session-Id': sid },
      body: JSON.stringify({ jsonrpc: '2.0', id: 99, method: 'ping' }),
    });
    await res.text();
    return res.status;
  }

  const sessions = () => c.redis.zrange(c.keyspace.userSessions(sessionOwnerKey(user, 'test-client')), 0, -1);
  const score = async (sid: string) =>
    Number(await c.redis.zscore(c.keyspace.userSessions(sessionOwnerKey(user, 'test-client')), sid));

  /** Waits (on Redis, not a clock) until the hosts' activity sweep recorded `sid` as used after `than`. */
  async function usedAfter(sid: string, than: string): Promise<void> {
    const deadline = Date.now() + 10_000;
    while ((await score(sid)) <= (await score(than))) {
      if (Date.now() > deadline) throw new Error(`activity of ${sid} never recorded`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** A tools/call waiting for the client's answer to its sampling request: in flight until answered. */
  async function pendingSampling(sid: string): Promise<{ stream: RawSse; answer(): Promise<string> }> {
    const stream = await openRawSse(
      `${url(0)}/mcp`,
      { ...auth(), 'Mcp-Session-Id': sid },
      {
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 7,
          method: 'tools/call',
          params: { name: 'sampleLLM', arguments: { prompt: 'hold on' } },
        }),
      },
    );
    let event = await stream.next();
    while (!event.data.includes('sampling/createMessage')) event = await stream.next();
    const request = JSON.parse(event.data) as { id: number | string };
    return {
      stream,
      async answer() {
        const res = await fetch(`${url(1)}/mcp`, {
          method: 'POST',
          headers: { ...auth(), 'Mcp-Session-Id': sid },
          body: JSON.stringify({
            jsonrpc: '2.0',
            id: request.id,
            result: { role: 'assistant', content: { type: 'text', text: 'ok' }, model: 'm' },
          }),
        });
        await res.text();
        let last = await stream.next();
        while (!last.data.includes('"id":7')) last = await stream.next();
        return last.data;
      },
    };
  }

  test('at the cap, the least recently used idle session is ended on whichever instance hosts it', async () => {
    const s1 = await open(0);
    const s2 = await open(1);
    const s3 = await open(0);
    // s1 is used again: s2 becomes the least recently used.
    expect(await ping(s1)).toBe(200);
    await usedAfter(s1, s3);
    const before = metric(await (await fetch(`${url(0)}/metrics`)).text(), 'mcp_session_evictions_total');

    const s4 = await open(0);
    expect(await ping(s2)).toBe(404);
    for (const sid of [s1, s3, s4]) expect(await ping(sid)).toBe(200);
    expect((await sessions()).sort()).toEqual([s1, s3, s4].sort());
    // Counted and logged by the instance that made room (s2 lived on the other one).
    expect(metric(await (await fetch(`${url(0)}/metrics`)).text(), 'mcp_session_evictions_total')).toBe(before + 1);
    const line = logs.A.lines.find(
      (l) => l['msg'] === 'idle session ended: per-user session cap reached' && l['session'] === s2,
    );
    expect(line).toMatchObject({ level: 30, max: MAX });
    expect(JSON.stringify(line)).not.toContain(token);
  });

  test('busy sessions (open GET stream, request in flight) are passed over; with all busy the new one is refused', async () => {
    const withStream = await open(0);
    const inFlight = await open(1);
    const idle = await open(0);
    const get = await openRawSse(`${url(1)}/mcp`, { ...auth(), 'Mcp-Session-Id': withStream });
    expect(get.status).toBe(200);
    const sampling = await pendingSampling(inFlight);

    // The two least recently used are busy: the idle one, newest of the three, is the one ended.
    const fresh = await open(1);
    expect(await ping(idle)).toBe(404);
    expect(await ping(withStream)).toBe(200);

    // `fresh` is idle too: occupy it, then every session is busy.
    const get2 = await openRawSse(`${url(0)}/mcp`, { ...auth(), 'Mcp-Session-Id': fresh });
    expect(get2.status).toBe(200);
    const before = metric(await (await fetch(`${url(1)}/metrics`)).text(), 'mcp_session_limit_refusals_total');
    const refused = await initialize(1);
    expect(refused.status).toBe(429);
    expect(await refused.json()).toMatchObject({
      id: 1,
      error: { code: -32000, message: expect.stringContaining(`max ${MAX}`) },
    });
    expect(metric(await (await fetch(`${url(1)}/metrics`)).text(), 'mcp_session_limit_refusals_total')).toBe(
      before + 1,
    );
    expect((await sessions()).sort()).toEqual([withStream, inFlight, fresh].sort());

    // The request in flight still completes; once it has and the streams are closed, room is made again.
    expect(await sampling.answer()).toContain('LLM sampling result');
    sampling.stream.close();
    get.close();
    get2.close();
    const deadline = Date.now() + 10_000;
    let res = await initialize(0);
    while (res.status === 429 && Date.now() < deadline) {
      // The GET leases are released when the servers see the connections close.
      await res.text();
      await new Promise((r) => setTimeout(r, 50));
      res = await initialize(0);
    }
    expect(res.status).toBe(200);
    await res.text();
  });

  test('a session whose WebSocket is open is busy: never ended to make room', async () => {
    const transport = new WebSocketClientTransport(new URL(url(0).replace(/^http/, 'ws') + '/ws'), {
      headers: { Authorization: `Bearer ${token}` },
    });
    const client = new Client({ name: 'cap-ws', version: '1' });
    await client.connect(transport);
    try {
      // The socket's session is the least recently used of the three; the other two are idle.
      const idle1 = await open(1);
      const idle2 = await open(0);
      const fresh = await open(1);
      expect(await ping(idle1)).toBe(404);
      expect(await ping(idle2)).toBe(200);
      expect(await ping(fresh)).toBe(200);
      // The socket still serves its session.
      const result = (await client.callTool({ name: 'echo', arguments: { message: 'still here' } })) as {
        content: Array<{ text: string }>;
      };
      expect(result.content[0]!.text).toBe('Echo: still here');
    } finally {
      await client.close();
    }
  });

  test('two initializes racing on two instances at the cap both get a slot; the cap holds', async () => {
    const evictions = async () => {
      const texts = await Promise.all([0, 1].map(async (i) => (await fetch(`${url(i as 0 | 1)}/metrics`)).text()));
      return texts.reduce((sum, t) => sum + metric(t, 'mcp_session_evictions_total'), 0);
    };
    const old = [await open(0), await open(1), await open(0)];
    const before = await evictions();
    const [r1, r2] = await Promise.all([initialize(0), initialize(1)]);
    expect([r1.status, r2.status]).toEqual([200, 200]);
    const fresh = [r1.headers.get('mcp-session-id')!, r2.headers.get('mcp-session-id')!];
    await Promise.all([r1.text(), r2.text()]);
    const live = await sessions();
    expect(live).toHaveLength(MAX);
    expect(live).toEqual(expect.arrayContaining(fresh));
    // Exactly two of the old sessions made room, the least recently used ones.
    expect(await Promise.all(old.map((s) => ping(s)))).toEqual([404, 404, 200]);
    // Each ended session counted once, even when both instances picked the same victim.
    expect(await evictions()).toBe(before + 2);
  });
});
