/**
 * SSE resumability across instances (spec 2025-11-25, "Resumability and Redelivery"): a client
 * that loses a stream — say, because the instance holding it went away — reconnects with
 * Last-Event-ID to ANY instance and gets what it missed, once, then the rest live.
 */
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { sessionOwnerKey } from '../redis/keys.js';
import { startCluster, TOKENS, type Cluster } from './cluster.js';
import { openRawSse, type RawSse, type SseEvent } from './sseStream.js';

const VERSION = '2025-11-25';
const INIT = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: VERSION, capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
};

let c: Cluster;
let A: string, B: string, C: string;
beforeAll(async () => {
  c = await startCluster(3, { RELAY_TIMEOUT_MS: '1000' });
  [A, B, C] = c.instances.map((i) => i.url) as [string, string, string];
});
afterAll(() => c.close());

const headers = (sid?: string, token: string = TOKENS.alice): Record<string, string> => ({
  'Content-Type': 'application/json',
  Accept: 'application/json, text/event-stream',
  Authorization: `Bearer ${token}`,
  'MCP-Protocol-Version': VERSION,
  ...(sid ? { 'Mcp-Session-Id': sid } : {}),
});

async function init(base: string): Promise<string> {
  const res = await fetch(`${base}/mcp`, { method: 'POST', headers: headers(), body: JSON.stringify(INIT) });
  expect(res.status).toBe(200);
  await res.text();
  const sid = res.headers.get('mcp-session-id')!;
  const note = await fetch(`${base}/mcp`, {
    method: 'POST',
    headers: headers(sid),
    body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
  });
  expect(note.status).toBe(202);
  return sid;
}

const slowCall = (id: number, steps: number) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: {
    name: 'longRunningOperation',
    arguments: { duration: steps * 0.08, steps },
    _meta: { progressToken: `p${id}` },
  },
});

async function readUntilResult(sse: RawSse, id: number): Promise<SseEvent[]> {
  const events: SseEvent[] = [];
  for (;;) {
    const e = await sse.next();
    events.push(e);
    if (e.data && (JSON.parse(e.data) as { id?: number }).id === id) return events;
  }
}

const progressOf = (events: SseEvent[]) =>
  events
    .filter((e) => e.data.includes('notifications/progress'))
    .map((e) => (JSON.parse(e.data) as { params: { progress: number } }).params.progress);

describe('resuming a request stream on another instance', () => {
  test('priming event, ids on every event; a reconnect elsewhere gets the rest once, then the answer', async () => {
    const sid = await init(A); // hosted on A
    const post = await openRawSse(`${B}/mcp`, headers(sid), { body: JSON.stringify(slowCall(7, 6)) });
    expect(post.status).toBe(200);
    const priming = await post.next();
    expect(priming.data).toBe('');
    expect(priming.id).toMatch(/_0-0$/);
    const first = await post.next();
    expect(progressOf([first])).toEqual([1]);
    expect(first.id.split('_')[0]).toBe(priming.id.split('_')[0]);
    post.close(); // the connection to B is lost

    const resumed = await openRawSse(`${C}/mcp`, { ...headers(sid), 'Last-Event-ID': first.id });
    expect(resumed.status).toBe(200);
    const rest = await readUntilResult(resumed, 7);
    expect(progressOf(rest)).toEqual([2, 3, 4, 5, 6]);
    const answer = JSON.parse(rest.at(-1)!.data) as { result: { content: Array<{ text: string }> } };
    expect(answer.result.content[0]!.text).toContain('completed');
    await resumed.ended();
    // Every event id is distinct and ordered within the stream.
    const ids = [first, ...rest].map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);

    // From the answer on there is nothing left: 400 (not 404, which would mean "session gone").
    const after = await fetch(`${A}/mcp`, {
      headers: { ...headers(sid), Accept: 'text/event-stream', 'Last-Event-ID': rest.at(-1)!.id },
    });
    expect(after.status).toBe(400);
    // Resuming from the priming cursor replays the whole stream, from any instance.
    const again = await openRawSse(`${A}/mcp`, { ...headers(sid), 'Last-Event-ID': priming.id });
    expect(progressOf(await readUntilResult(again, 7))).toEqual([1, 2, 3, 4, 5, 6]);
    again.close();
  });

  test('a lone answer is plain JSON and logs nothing; bad, unknown and foreign event ids are refused', async () => {
    const sid = await init(A);
    const ping = await fetch(`${B}/mcp`, {
      method: 'POST',
      headers: headers(sid),
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'ping' }),
    });
    expect(ping.headers.get('content-type')).toContain('application/json');
    await ping.text();
    expect(await c.redis.exists(c.keyspace.sessionEvents(sessionOwnerKey('alice', 'test-client'), sid))).toBe(0);

    const get = (base: string, lastEventId: string, token: string = TOKENS.alice) =>
      fetch(`${base}/mcp`, {
        headers: { ...headers(sid, token), Accept: 'text/event-stream', 'Last-Event-ID': lastEventId },
      });
    expect((await get(B, 'not-an-id')).status).toBe(400);
    expect((await get(B, `${crypto.randomUUID()}.1_0-0`)).status).toBe(400);
    // Another user naming this session: the usual 404, before any stream is looked at.
    expect((await get(B, `${crypto.randomUUID()}.1_0-0`, TOKENS.bob)).status).toBe(404);
  });

  test('the SDK client rides a lost POST stream over to another instance and gets its result', async () => {
    let posts = 0;
    let cut = false;
    // A load balancer: initialize on A, the tool call on B (whose response dies mid-stream), GETs on C.
    const lb: typeof fetch = async (input, init) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      const body = typeof init?.body === 'string' ? init.body : '';
      const target = new URL(body.includes('"initialize"') ? A : init?.method === 'POST' ? (posts++ % 2 ? B : A) : C);
      url.host = target.host;
      const res = await fetch(url, init);
      if (!body.includes('"tools/call"') || !res.body) return res;
      // Pass the stream through until the first progress event, then lose the connection.
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      const dying = new ReadableStream<Uint8Array>({
        async pull(controller) {
          const { value, done } = await reader.read();
          if (done) return controller.close();
          controller.enqueue(value);
          if (decoder.decode(value, { stream: true }).includes('notifications/progress')) {
            cut = true;
            await reader.cancel();
            controller.error(new Error('connection lost'));
          }
        },
      });
      return new Response(dying, { status: res.status, headers: res.headers });
    };
    const client = new Client({ name: 'resume-test', version: '1' });
    const transport = new StreamableHTTPClientTransport(new URL(`${A}/mcp`), {
      fetch: lb,
      requestInit: { headers: { Authorization: `Bearer ${TOKENS.alice}` } },
      reconnectionOptions: {
        initialReconnectionDelay: 10,
        maxReconnectionDelay: 50,
        reconnectionDelayGrowFactor: 1.5,
        maxRetries: 3,
      },
    });
    await client.connect(transport);
    const progress: number[] = [];
    const result = await client.callTool(
      { name: 'longRunningOperation', arguments: { duration: 0.4, steps: 5 } },
      {
        onprogress: (p) => progress.push(p.progress),
      },
    );
    expect(cut).toBe(true);
    expect((result.content as Array<{ text: string }>)[0]!.text).toContain('completed');
    expect(progress).toEqual([1, 2, 3, 4, 5]);
    await client.close();
  });
});

describe('when the host of the request dies', () => {
  test('the resumed stream ends after the relay timeout, and is refused from then on instead of hanging', async () => {
    const extra = await c.start(); // a host this test may kill
    const sid = await init(extra.url);
    const post = await openRawSse(`${B}/mcp`, headers(sid), { body: JSON.stringify(slowCall(11, 20)) });
    await post.next(); // priming
    const first = await post.next();
    expect(progressOf([first])).toEqual([1]);
    post.close();
    await extra.kill();

    const resumed = await openRawSse(`${C}/mcp`, { ...headers(sid), 'Last-Event-ID': first.id });
    expect(resumed.status).toBe(200);
    await resumed.ended(); // within RELAY_TIMEOUT_MS (1 s here), without an answer
    const again = await fetch(`${C}/mcp`, {
      headers: { ...headers(sid), Accept: 'text/event-stream', 'Last-Event-ID': first.id },
    });
    expect(again.status).toBe(400);
    await again.text();
    // The session itself lives on: the next request is taken over by a live instance.
    const ping = await fetch(`${C}/mcp`, {
      method: 'POST',
      headers: headers(sid),
      body: JSON.stringify({ jsonrpc: '2.0', id: 12, method: 'ping' }),
    });
    expect(ping.status).toBe(200);
    await ping.text();
  });
});

describe('closing a request stream early (SEP-1699 polling)', () => {
  test('test_reconnection: the POST stream ends with a priming id and a retry hint; the answer comes on the resumed stream', async () => {
    const sid = await init(A);
    const call = { jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'test_reconnection', arguments: {} } };
    const post = await openRawSse(`${B}/mcp`, headers(sid), { body: JSON.stringify(call) });
    const priming = await post.next();
    expect(priming).toMatchObject({ data: '' });
    expect(priming.id).toMatch(/_0-0$/);
    await post.ended(); // closed by the server, no answer on it

    const resumed = await openRawSse(`${C}/mcp`, { ...headers(sid), 'Last-Event-ID': priming.id });
    const events = await readUntilResult(resumed, 9);
    expect(events.at(-1)!.data).toContain('Reconnection test completed successfully');
    await resumed.ended();
  });

  test('a client of an earlier revision keeps its stream: no priming, no early close, the answer on the POST', async () => {
    const sid = await init(A);
    const call = { jsonrpc: '2.0', id: 10, method: 'tools/call', params: { name: 'test_reconnection', arguments: {} } };
    const res = await fetch(`${B}/mcp`, {
      method: 'POST',
      headers: { ...headers(sid), 'MCP-Protocol-Version': '2025-06-18' },
      body: JSON.stringify(call),
    });
    const text = await res.text();
    expect(text).toContain('Reconnection test completed successfully');
    expect(text).not.toContain('id:');
    expect(await c.redis.exists(c.keyspace.sessionEvents(sessionOwnerKey('alice', 'test-client'), sid))).toBe(0);
  });

  test('the SDK client follows the early close to another instance and gets the result', async () => {
    const lb: typeof fetch = (input, init) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      const body = typeof init?.body === 'string' ? init.body : '';
      url.host = new URL(body.includes('"initialize"') ? A : init?.method === 'POST' ? B : C).host;
      return fetch(url, init);
    };
    const client = new Client({ name: 'polling-test', version: '1' });
    const transport = new StreamableHTTPClientTransport(new URL(`${A}/mcp`), {
      fetch: lb,
      requestInit: { headers: { Authorization: `Bearer ${TOKENS.alice}` } },
    });
    await client.connect(transport);
    const result = await client.callTool({ name: 'test_reconnection', arguments: {} });
    expect((result.content as Array<{ text: string }>)[0]!.text).toBe('Reconnection test completed successfully');
    await client.close();
  });
});

describe('resuming the standalone GET stream', () => {
  test('notifications sent while it was down are replayed on reconnect elsewhere, then live ones follow', async () => {
    const sid = await init(A);
    const subscribe = await fetch(`${A}/mcp`, {
      method: 'POST',
      headers: headers(sid),
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 3,
        method: 'resources/subscribe',
        params: { uri: 'test://static/resource/3' },
      }),
    });
    expect(subscribe.status).toBe(200);
    await subscribe.text();
    const lock = c.keyspace.sessionGetStream(sessionOwnerKey('alice', 'test-client'), sid);
    const update = () =>
      c.instances[1]!.routing.bus.publish(
        c.keyspace.serverEvents(),
        JSON.stringify({ kind: 'resource_updated', uri: 'test://static/resource/3' }),
      );

    const first = await openRawSse(`${B}/mcp`, headers(sid));
    await waitFor(async () => (await c.redis.exists(lock)) === 1);
    await update();
    const seen = await first.next();
    expect(seen.data).toContain('notifications/resources/updated');
    expect(seen.id).toMatch(/^get_\d+-\d+$/);
    first.close();
    await waitFor(async () => (await c.redis.exists(lock)) === 0);

    await update(); // nobody listens: logged only
    await waitFor(
      async () => (await c.redis.xlen(c.keyspace.sessionEvents(sessionOwnerKey('alice', 'test-client'), sid))) === 2,
    );
    const resumed = await openRawSse(`${C}/mcp`, { ...headers(sid), 'Last-Event-ID': seen.id });
    const missed = await resumed.next();
    expect(missed.data).toContain('notifications/resources/updated');
    expect(missed.id > seen.id).toBe(true);
    await waitFor(async () => (await c.redis.exists(lock)) === 1);
    await update();
    const live = await resumed.next();
    expect(live.data).toContain('notifications/resources/updated');
    expect(live.id > missed.id).toBe(true);
    resumed.close();

    // The log goes with the session.
    const del = await fetch(`${B}/mcp`, { method: 'DELETE', headers: headers(sid) });
    expect(del.status).toBe(200);
    expect((await c.keys()).filter((k) => k.includes(sid))).toEqual([]);
  });
});

async function waitFor(cond: () => Promise<boolean>): Promise<void> {
  while (!(await cond())) await new Promise((r) => setTimeout(r, 5));
}
