/**
 * The legacy HTTP+SSE transport (2024-11-05) across instances on one real Redis: the /sse stream
 * on one instance, POST /message on another, every answer on the stream; ownership, dead sessions,
 * stream close and instance loss.
 */
import { Client, SSEClientTransport, type CallToolResult } from '@modelcontextprotocol/client';
import { sessionOwnerKey } from '../redis/keys.js';
import { startCluster, TOKENS, type Cluster } from './cluster.js';
import { balancedFetch, type Picker } from './mcpClient.js';
import { openRawSse, type RawSse } from './sseStream.js';

const text = (r: unknown) => ((r as CallToolResult).content[0] as { text: string }).text;
const auth = (token: string = TOKENS.alice) => ({ Authorization: `Bearer ${token}` });
const INIT = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2024-11-05', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
};

async function waitFor(cond: () => Promise<boolean>): Promise<void> {
  while (!(await cond())) await new Promise((r) => setTimeout(r, 10));
}

/** An SDK client on the legacy transport: the stream goes wherever `pick` says for GET, POSTs likewise. */
async function connectSse(streamBase: string, pick: Picker, token: string = TOKENS.alice) {
  const client = new Client({ name: 'legacy-client', version: '1.0.0' });
  const transport = new SSEClientTransport(new URL(`${streamBase}/sse`), {
    requestInit: { headers: auth(token) },
    fetch: balancedFetch(pick),
  });
  await client.connect(transport);
  return client;
}

function postMessage(base: string, sid: string, body: unknown, token: string = TOKENS.alice): Promise<Response> {
  return fetch(`${base}/message?sessionId=${encodeURIComponent(sid)}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...auth(token) },
    body: JSON.stringify(body),
  });
}

/** Opens a raw /sse stream and returns it with the session id its endpoint event announced. */
async function rawSession(
  base: string,
  token: string = TOKENS.alice,
): Promise<{ sse: RawSse; sid: string; endpoint: string }> {
  const sse = await openRawSse(`${base}/sse`, auth(token));
  expect(sse.status).toBe(200);
  const first = await sse.next();
  expect(first.event).toBe('endpoint');
  const sid = new URL(first.data, base).searchParams.get('sessionId')!;
  return { sse, sid, endpoint: first.data };
}

describe('legacy HTTP+SSE across two instances', () => {
  let c: Cluster;
  let A: string;
  let B: string;
  const sessionKeys = async (sid: string) => (await c.keys()).filter((k) => k.includes(sid));
  beforeAll(async () => {
    c = await startCluster(2);
    [A, B] = c.instances.map((i) => i.url) as [string, string];
  });
  afterAll(() => c.close());

  test('SDK SSEClientTransport: stream on A, every POST on B; echo and progress arrive on the stream', async () => {
    const client = await connectSse(A, ({ method }) => (method === 'POST' ? B : A));
    expect(text(await client.callTool({ name: 'echo', arguments: { message: 'legacy' } }))).toBe('Echo: legacy');
    const progress: number[] = [];
    const result = await client.callTool(
      { name: 'longRunningOperation', arguments: { duration: 0.06, steps: 4 } },
      {
        onprogress: (p) => progress.push(p.progress),
      },
    );
    expect(text(result)).toContain('completed');
    // The last progress event and the response leave back to back (the wire order is checked
    // below). The SDK client handles notifications a microtask later than responses, and its
    // EventSource dispatches every event of a chunk at once, so it may drop that last one.
    expect(progress.slice(0, 3)).toEqual([1, 2, 3]);
    // The session is hosted where its stream is, and is recorded as an HTTP+SSE session.
    expect(c.instances[0]!.routing.hostedCount).toBe(1);
    expect(c.instances[1]!.routing.hostedCount).toBe(0);
    await client.close();
    await waitFor(async () => c.instances[0]!.routing.hostedCount === 0);
  });

  test('the endpoint event names /message with the session id; POSTs answer 202 and the response rides the stream', async () => {
    const { sse, sid, endpoint } = await rawSession(A);
    expect(endpoint).toBe(`/message?sessionId=${sid}`);
    const accepted = await postMessage(B, sid, INIT);
    expect(accepted.status).toBe(202);
    expect(await accepted.text()).toBe('');
    const answer = await sse.next();
    expect(answer.event).toBe('message');
    expect(JSON.parse(answer.data)).toMatchObject({ jsonrpc: '2.0', id: 1, result: { protocolVersion: '2024-11-05' } });
    // Once initialized, the session's meta holds the initialize request for takeover replay.
    const meta = await c.redis.hgetall(c.keyspace.sessionMeta(sessionOwnerKey('alice', 'test-client'), sid));
    expect(JSON.parse(meta['init']!)).toMatchObject({ method: 'initialize' });
    expect(meta['sse']).toBe(c.instances[0]!.routing.instanceId);
    expect((await postMessage(B, sid, { jsonrpc: '2.0', method: 'notifications/initialized' })).status).toBe(202);
    expect((await postMessage(A, sid, { jsonrpc: '2.0', id: 2, method: 'ping' })).status).toBe(202);
    expect(JSON.parse((await sse.next()).data)).toEqual({ jsonrpc: '2.0', id: 2, result: {} });
    sse.close();
  });

  test('progress notifications precede the response on the stream, in order', async () => {
    const { sse, sid } = await rawSession(A);
    await postMessage(B, sid, INIT);
    await sse.next();
    await postMessage(B, sid, { jsonrpc: '2.0', method: 'notifications/initialized' });
    const call = {
      name: 'longRunningOperation',
      arguments: { duration: 0.03, steps: 3 },
      _meta: { progressToken: 'p' },
    };
    expect((await postMessage(B, sid, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: call })).status).toBe(202);
    const seen: string[] = [];
    for (;;) {
      const m = JSON.parse((await sse.next()).data) as { id?: number; params?: { progress: number } };
      seen.push(m.params ? `progress ${m.params.progress}` : `response ${m.id}`);
      if (m.id !== undefined) break;
    }
    expect(seen).toEqual(['progress 1', 'progress 2', 'progress 3', 'response 2']);
    sse.close();
  });

  test("another user's POST is 404 on every instance, exactly like an unknown session", async () => {
    const { sse, sid } = await rawSession(A);
    for (const base of [A, B]) {
      const asBob = await postMessage(base, sid, { jsonrpc: '2.0', id: 9, method: 'ping' }, TOKENS.bob);
      expect(asBob.status).toBe(404);
      expect(await asBob.json()).toMatchObject({ jsonrpc: '2.0', id: 9, error: { code: -32001 } });
    }
    // Alice's session is untouched.
    expect((await postMessage(B, sid, INIT)).status).toBe(202);
    expect(JSON.parse((await sse.next()).data)).toMatchObject({ id: 1, result: {} });
    sse.close();
  });

  test('POST for a dead or unknown session is 404, not 202; a missing sessionId is 400; bad bodies as on /mcp', async () => {
    const unknown = await postMessage(B, 'no-such-session', { jsonrpc: '2.0', method: 'notifications/initialized' });
    expect(unknown.status).toBe(404);
    const missing = await fetch(`${B}/message`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...auth() },
      body: '{}',
    });
    expect(missing.status).toBe(400);
    const { sse, sid } = await rawSession(A);
    const bad = await fetch(`${B}/message?sessionId=${sid}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...auth() },
      body: '{"jsonrpc":',
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: number } }).error.code).toBe(-32700);
    sse.close();
    // Ended: its keys are gone first (so nobody takes it over), then the host stops listening.
    const inbound = c.keyspace.sessionInbound(sessionOwnerKey('alice', 'test-client'), sid);
    await waitFor(async () => (await sessionKeys(sid)).length === 0 && (await c.receivers(inbound)) === 0);
    const dead = await postMessage(B, sid, { jsonrpc: '2.0', id: 3, method: 'ping' });
    expect(dead.status).toBe(404);
    expect(await dead.json()).toMatchObject({ error: { code: -32001 }, id: 3 });
  });

  test('closing the stream ends the session: no key of it remains, no instance hosts it', async () => {
    const { sse, sid } = await rawSession(A);
    expect((await postMessage(B, sid, INIT)).status).toBe(202);
    await sse.next();
    expect(
      (
        await postMessage(B, sid, {
          jsonrpc: '2.0',
          id: 2,
          method: 'resources/subscribe',
          params: { uri: 'test://static/resource/1' },
        })
      ).status,
    ).toBe(202);
    await sse.next();
    expect((await sessionKeys(sid)).length).toBeGreaterThan(1); // meta + subscriptions (+ the user's set)
    sse.close();
    // The host deletes the keys first, then stops hosting.
    await waitFor(
      async () => (await sessionKeys(sid)).length === 0 && c.instances.every((i) => i.routing.hostedCount === 0),
    );
    expect(await c.redis.zscore(c.keyspace.userSessions(sessionOwnerKey('alice', 'test-client')), sid)).toBeNull();
  });

  test('guards as on /mcp: no token → 401 with a challenge, disallowed Origin → 403, wrong method → 405', async () => {
    const anon = await fetch(`${A}/sse`, { headers: { Accept: 'text/event-stream' } });
    expect(anon.status).toBe(401);
    expect(anon.headers.get('www-authenticate')).toMatch(/^Bearer\b/);
    expect(
      (
        await fetch(`${A}/message?sessionId=x`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: '{}',
        })
      ).status,
    ).toBe(401);
    const evil = await fetch(`${A}/sse`, {
      headers: { Accept: 'text/event-stream', Origin: 'http://evil.example.com', ...auth() },
    });
    expect(evil.status).toBe(403);
    const evilPost = await fetch(`${A}/message?sessionId=x`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Origin: 'http://evil.example.com', ...auth() },
      body: '{}',
    });
    expect(evilPost.status).toBe(403);
    expect((await fetch(`${A}/message?sessionId=x`, { headers: auth() })).status).toBe(405);
  });

  test('POST /mcp naming a legacy session is refused (400) instead of waiting for an answer that goes to the stream', async () => {
    const { sse, sid } = await rawSession(A);
    const res = await fetch(`${B}/mcp`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        Accept: 'application/json, text/event-stream',
        'Mcp-Session-Id': sid,
        ...auth(),
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 4, method: 'ping' }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: -32600 }, id: 4 });
    sse.close();
  });
});

describe('legacy HTTP+SSE and instance loss', () => {
  let c: Cluster;
  beforeEach(async () => {
    c = await startCluster(2, { RELAY_TIMEOUT_MS: '400' });
  });
  afterEach(() => c.close());

  test('the instance holding the stream (and host) dies: POSTs elsewhere get 404 at once and the keys go', async () => {
    const [A, B] = c.instances as [(typeof c.instances)[0], (typeof c.instances)[0]];
    const { sse, sid } = await rawSession(A.url);
    expect((await postMessage(B.url, sid, INIT)).status).toBe(202);
    await sse.next();
    await A.kill();
    await sse.ended();
    // The stream cannot move, so nothing could reach the client again: B refuses the takeover.
    const res = await postMessage(B.url, sid, { jsonrpc: '2.0', id: 2, method: 'ping' });
    expect(res.status).toBe(404);
    expect((await c.keys()).filter((k) => k.includes(sid))).toEqual([]);
    expect(B.routing.hostedCount).toBe(0);
  });

  test('the host dies while the stream lives on another instance: the next POST takes the session over', async () => {
    const [A, B] = c.instances as [(typeof c.instances)[0], (typeof c.instances)[0]];
    let postTo = A.url;
    const client = await connectSse(A.url, ({ method }) => (method === 'POST' ? postTo : A.url));
    await client.setLoggingLevel('error');
    const sid = (await A.routing.store.listForUser(sessionOwnerKey('alice', 'test-client')))[0]!;
    const inbound = c.keyspace.sessionInbound(sessionOwnerKey('alice', 'test-client'), sid);
    const outbound = c.keyspace.sessionOutbound(sessionOwnerKey('alice', 'test-client'), sid);

    // A's subscriber connection drops: A gives up hosting (it cannot hear the session any more)
    // while its HTTP stream stays open; once reconnected, A's stream listens again.
    await c.dropSubscriber(A);
    await waitFor(async () => A.routing.hostedCount === 0);
    await waitFor(async () => (await c.receivers(outbound)) === 1 && (await c.receivers(inbound)) === 0);

    postTo = B.url;
    expect(text(await client.callTool({ name: 'echo', arguments: { message: 'moved' } }))).toBe('Echo: moved');
    expect(B.routing.hostedCount).toBe(1);

    // Now the host (B) dies; the stream on A lives: the next POST (on A) takes the session over.
    await B.kill();
    postTo = A.url;
    const t0 = Date.now();
    expect(text(await client.callTool({ name: 'echo', arguments: { message: 'survived' } }))).toBe('Echo: survived');
    expect(Date.now() - t0).toBeLessThan(400);
    expect(A.routing.hostedCount).toBe(1);
    // The replayed session kept its Redis state (log level) and knows it is an HTTP+SSE session.
    const meta = await c.redis.hgetall(c.keyspace.sessionMeta(sessionOwnerKey('alice', 'test-client'), sid));
    expect(meta).toMatchObject({ level: 'error', host: A.routing.instanceId, sse: A.routing.instanceId });
    await client.close();
    await waitFor(async () => (await c.keys()).every((k) => !k.includes(sid)));
  });
});
