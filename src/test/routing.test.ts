/**
 * The routing core across real instances on a real Redis: any instance answers any request of any
 * session, notifications find their stream, DELETE and instance loss behave, nothing leaks.
 */
import type { CallToolResult } from '@modelcontextprotocol/client';
import { sessionOwnerKey } from '../redis/keys.js';
import { startCluster, TOKENS, type Cluster } from './cluster.js';
import { connectClient, initOnThenRoundRobin } from './mcpClient.js';

const JSON_HEADERS = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };
const INIT = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
};

async function rawInit(base: string, token: string = TOKENS.alice): Promise<string> {
  const res = await fetch(`${base}/mcp`, {
    method: 'POST',
    headers: { ...JSON_HEADERS, Accept: 'application/json', Authorization: `Bearer ${token}` },
    body: JSON.stringify(INIT),
  });
  expect(res.status).toBe(200);
  await res.text();
  const sid = res.headers.get('mcp-session-id');
  expect(sid).toBeTruthy();
  return sid!;
}

function rawPost(
  base: string,
  sid: string | undefined,
  body: unknown,
  token: string = TOKENS.alice,
  accept = 'application/json',
) {
  const headers: Record<string, string> = { ...JSON_HEADERS, Accept: accept, Authorization: `Bearer ${token}` };
  if (sid) headers['Mcp-Session-Id'] = sid;
  return fetch(`${base}/mcp`, {
    method: 'POST',
    headers,
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

const errorCode = async (res: Response) => ((await res.json()) as { error: { code: number } }).error.code;
const text = (r: unknown) => ((r as CallToolResult).content[0] as { text: string }).text;

describe('two instances on one Redis', () => {
  let c: Cluster;
  let A: string;
  let B: string;
  beforeAll(async () => {
    c = await startCluster(2);
    [A, B] = c.instances.map((i) => i.url) as [string, string];
  });
  afterAll(() => c.close());

  test('initialize on A, every later request on B, progress notifications come back through B', async () => {
    const { client } = await connectClient(A, TOKENS.alice, initOnThenRoundRobin(A, [B]));
    expect(text(await client.callTool({ name: 'echo', arguments: { message: 'across' } }))).toBe('Echo: across');
    const progress: number[] = [];
    const result = await client.callTool(
      { name: 'longRunningOperation', arguments: { duration: 0.05, steps: 3 } },
      {
        onprogress: (p) => progress.push(p.progress),
      },
    );
    expect(text(result)).toContain('completed');
    expect(progress).toEqual([1, 2, 3]);
    await client.close();
  });

  test('requests of one session alternate between instances', async () => {
    const { client } = await connectClient(A, TOKENS.alice, initOnThenRoundRobin(B, [A, B]));
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => client.callTool({ name: 'add', arguments: { a: i, b: 1 } })),
    );
    answers.forEach((r, i) => expect(text(r)).toContain(String(i + 1)));
    await client.close();
  });

  test('DELETE on B ends the session hosted on A; then 404 on both; no key of it remains', async () => {
    const sid = await rawInit(A);
    const before = await c.keys();
    expect(before.some((k) => k.includes(sid))).toBe(true);
    const del = await fetch(`${B}/mcp`, {
      method: 'DELETE',
      headers: { 'Mcp-Session-Id': sid, Authorization: `Bearer ${TOKENS.alice}` },
    });
    expect(del.status).toBe(200);
    for (const base of [A, B]) {
      const res = await rawPost(base, sid, { jsonrpc: '2.0', id: 2, method: 'ping' });
      expect(res.status).toBe(404);
      expect(await res.json()).toMatchObject({ jsonrpc: '2.0', error: { code: -32001 }, id: 2 });
    }
    expect((await c.keys()).filter((k) => k.includes(sid))).toEqual([]);
  });

  test("another user's session id is 404, exactly like an unknown one", async () => {
    const sid = await rawInit(A, TOKENS.alice);
    for (const base of [A, B]) {
      const asBob = await rawPost(base, sid, { jsonrpc: '2.0', id: 5, method: 'ping' }, TOKENS.bob);
      expect(asBob.status).toBe(404);
      const bobDelete = await fetch(`${base}/mcp`, {
        method: 'DELETE',
        headers: { 'Mcp-Session-Id': sid, Authorization: `Bearer ${TOKENS.bob}` },
      });
      expect(bobDelete.status).toBe(404);
      const bobGet = await fetch(`${base}/mcp`, {
        headers: { Accept: 'text/event-stream', 'Mcp-Session-Id': sid, Authorization: `Bearer ${TOKENS.bob}` },
      });
      expect(bobGet.status).toBe(404);
    }
    const asAlice = await rawPost(B, sid, { jsonrpc: '2.0', id: 6, method: 'ping' });
    expect(await asAlice.json()).toEqual({ jsonrpc: '2.0', id: 6, result: {} });
  });

  test('a client that disconnects mid-call leaves both instances healthy', async () => {
    const sid = await rawInit(A);
    const ac = new AbortController();
    const res = await fetch(`${B}/mcp`, {
      method: 'POST',
      headers: { ...JSON_HEADERS, 'Mcp-Session-Id': sid, Authorization: `Bearer ${TOKENS.alice}` },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 7,
        method: 'tools/call',
        params: { name: 'longRunningOperation', arguments: { duration: 0.3, steps: 3 }, _meta: { progressToken: 't' } },
      }),
      signal: ac.signal,
    });
    const reader = res.body!.getReader();
    await reader.read(); // first progress event arrived: the call is running on A
    ac.abort();
    // The host finishes and answers into the void; both instances keep serving the session.
    for (const base of [A, B]) {
      const ping = await rawPost(base, sid, { jsonrpc: '2.0', id: `p-${base}`, method: 'ping' });
      expect(ping.status).toBe(200);
    }
    // Same request id can be reused once the abandoned call has completed on the host.
    const again = await rawPost(A, sid, {
      jsonrpc: '2.0',
      id: 8,
      method: 'tools/call',
      params: { name: 'echo', arguments: { message: 'still here' } },
    });
    expect(text(((await again.json()) as { result: CallToolResult }).result)).toBe('Echo: still here');
  });

  test('server messages unrelated to a request reach the GET stream held by the other instance', async () => {
    // The SDK client opens its GET stream right after initialize: that GET lands on B, the host is A.
    const { client, transport } = await connectClient(A, TOKENS.alice, initOnThenRoundRobin(A, [B]));
    const updated = new Promise<string>((resolve) =>
      client.setNotificationHandler('notifications/resources/updated', (n) => resolve(n.params.uri)),
    );
    await client.subscribeResource({ uri: 'test://static/resource/3' });
    const sid = transport.sessionId!;
    // Only one standalone stream per session, whichever instance is asked.
    await waitFor(
      async () =>
        (await c.redis.exists(c.keyspace.sessionGetStream(sessionOwnerKey('alice', 'test-client'), sid))) === 1,
    );
    const second = await fetch(`${A}/mcp`, {
      headers: { Accept: 'text/event-stream', 'Mcp-Session-Id': sid, Authorization: `Bearer ${TOKENS.alice}` },
    });
    expect(second.status).toBe(409);
    await c.instances[1]!.routing.bus.publish(
      c.keyspace.serverEvents(),
      JSON.stringify({ kind: 'resource_updated', uri: 'test://static/resource/3' }),
    );
    expect(await updated).toBe('test://static/resource/3');
    await client.close();
  });
});

async function waitFor(cond: () => Promise<boolean>): Promise<void> {
  while (!(await cond())) await new Promise((r) => setImmediate(r));
}

describe('status codes of the Streamable HTTP endpoint', () => {
  let c: Cluster;
  let A: string;
  beforeAll(async () => {
    c = await startCluster(1, { MAX_BODY_BYTES: '2048' });
    A = c.instances[0]!.url;
  });
  afterAll(() => c.close());

  test('missing session id → 400; unknown session → 404; no token → 401 with a challenge', async () => {
    expect((await rawPost(A, undefined, { jsonrpc: '2.0', id: 1, method: 'ping' })).status).toBe(400);
    const unknown = await rawPost(A, 'no-such-session', { jsonrpc: '2.0', id: 1, method: 'ping' });
    expect(unknown.status).toBe(404);
    const anon = await fetch(`${A}/mcp`, { method: 'POST', headers: JSON_HEADERS, body: JSON.stringify(INIT) });
    expect(anon.status).toBe(401);
    expect(anon.headers.get('www-authenticate')).toMatch(/^Bearer\b/);
  });

  test('malformed JSON → -32700, batch → -32600, oversized → 413, wrong content type → 415, bad Accept → 406', async () => {
    const bad = await rawPost(A, undefined, '{"jsonrpc":');
    expect(bad.status).toBe(400);
    expect(await errorCode(bad)).toBe(-32700);
    const batch = await rawPost(A, undefined, [INIT]);
    expect(batch.status).toBe(400);
    expect(await errorCode(batch)).toBe(-32600);
    const big = await rawPost(A, undefined, { ...INIT, params: { ...INIT.params, pad: 'x'.repeat(4096) } });
    expect(big.status).toBe(413);
    const form = await fetch(`${A}/mcp`, {
      method: 'POST',
      headers: { 'Content-Type': 'text/plain', Authorization: `Bearer ${TOKENS.alice}` },
      body: 'x',
    });
    expect(form.status).toBe(415);
    const accept = await rawPost(A, undefined, INIT, TOKENS.alice, 'text/html');
    expect(accept.status).toBe(406);
  });

  test('unsupported MCP-Protocol-Version → 400; 2026-era traffic is answered by the 2026-07-28 lane', async () => {
    const sid = await rawInit(A);
    const headers = { ...JSON_HEADERS, Authorization: `Bearer ${TOKENS.alice}`, 'Mcp-Session-Id': sid };
    const old = await fetch(`${A}/mcp`, {
      method: 'POST',
      headers: { ...headers, 'MCP-Protocol-Version': '1999-01-01' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'ping' }),
    });
    expect(old.status).toBe(400);
    const modern = { ...headers, 'MCP-Protocol-Version': '2026-07-28', 'Mcp-Method': 'server/discover' };
    // A 2026-era header without the per-request envelope: the modern lane's -32602, with the id.
    const bare = await fetch(`${A}/mcp`, {
      method: 'POST',
      headers: modern,
      body: JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'server/discover' }),
    });
    expect(bare.status).toBe(400);
    expect(await bare.json()).toMatchObject({ id: 3, error: { code: -32602 } });
    // With the envelope, discovery works (the session id header is ignored by this lane).
    const _meta = {
      'io.modelcontextprotocol/protocolVersion': '2026-07-28',
      'io.modelcontextprotocol/clientCapabilities': {},
    };
    const probe = await fetch(`${A}/mcp`, {
      method: 'POST',
      headers: modern,
      body: JSON.stringify({ jsonrpc: '2.0', id: 4, method: 'server/discover', params: { _meta } }),
    });
    expect(probe.status).toBe(200);
    expect(await probe.json()).toMatchObject({ id: 4, result: { supportedVersions: ['2026-07-28'] } });
    expect((await fetch(`${A}/mcp`, { headers: { ...modern, Accept: 'text/event-stream' } })).status).toBe(405);
    expect((await fetch(`${A}/mcp`, { method: 'DELETE', headers: modern })).status).toBe(405);
  });

  test('a 2025 session gets the 2025-11-25 wire: an unknown resource is -32002 with data {uri}; errors carry the request id', async () => {
    const sid = await rawInit(A);
    const read = await rawPost(A, sid, {
      jsonrpc: '2.0',
      id: 'r1',
      method: 'resources/read',
      params: { uri: 'test://nope' },
    });
    expect(await read.json()).toEqual({
      jsonrpc: '2.0',
      id: 'r1',
      error: { code: -32002, message: 'Resource not found', data: { uri: 'test://nope' } },
    });
    const noSession = await rawPost(A, undefined, { jsonrpc: '2.0', id: 'r2', method: 'ping' });
    expect(((await noSession.json()) as { id: unknown }).id).toBe('r2');
    const gone = await rawPost(A, 'no-such-session', { jsonrpc: '2.0', id: 'r3', method: 'ping' });
    expect(((await gone.json()) as { id: unknown }).id).toBe('r3');
  });

  test('notifications and responses are accepted with 202 and no body; for a dead session 404', async () => {
    const sid = await rawInit(A);
    const ok = await rawPost(A, sid, { jsonrpc: '2.0', method: 'notifications/initialized' });
    expect(ok.status).toBe(202);
    expect(await ok.text()).toBe('');
    const dead = await rawPost(A, 'gone-session', { jsonrpc: '2.0', method: 'notifications/initialized' });
    expect(dead.status).toBe(404);
  });

  test('a present, disallowed Origin → 403; preflight is answered before auth and exposes the MCP headers', async () => {
    const evil = await fetch(`${A}/mcp`, {
      method: 'POST',
      headers: { ...JSON_HEADERS, Origin: 'http://evil.example.com', Authorization: `Bearer ${TOKENS.alice}` },
      body: JSON.stringify(INIT),
    });
    expect(evil.status).toBe(403);
    const pre = await fetch(`${A}/mcp`, {
      method: 'OPTIONS',
      headers: {
        Origin: 'http://localhost:6274',
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'authorization,content-type,mcp-session-id',
      },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('http://localhost:6274');
    // A 2026-07-28 browser client names its method and target in headers (SEP-2243).
    const allowed = (pre.headers.get('access-control-allow-headers') ?? '').toLowerCase();
    for (const h of ['mcp-protocol-version', 'mcp-method', 'mcp-name']) expect(allowed).toContain(h);
    const ok = await fetch(`${A}/mcp`, {
      method: 'POST',
      headers: { ...JSON_HEADERS, Origin: 'http://localhost:6274', Authorization: `Bearer ${TOKENS.alice}` },
      body: JSON.stringify(INIT),
    });
    expect(ok.status).toBe(200);
    const exposed = ok.headers.get('access-control-expose-headers') ?? '';
    for (const h of ['Mcp-Session-Id', 'MCP-Protocol-Version', 'WWW-Authenticate']) expect(exposed).toContain(h);
    await ok.text();
  });

  test('a lone answer comes as JSON; a request with intermediate messages streams as SSE; SSE-only Accept is honoured', async () => {
    const sid = await rawInit(A);
    const both = 'application/json, text/event-stream';
    const json = await rawPost(A, sid, { jsonrpc: '2.0', id: 1, method: 'ping' }, TOKENS.alice, both);
    expect(json.headers.get('content-type')).toContain('application/json');
    const text = await json.text();
    expect(JSON.parse(text)).toEqual({ jsonrpc: '2.0', id: 1, result: {} });
    // Sent with its length in one piece, not chunked.
    expect(json.headers.get('content-length')).toBe(String(Buffer.byteLength(text)));
    expect(json.headers.get('transfer-encoding')).toBeNull();
    const echo = {
      jsonrpc: '2.0',
      id: 4,
      method: 'tools/call',
      params: { name: 'echo', arguments: { message: 'grüße ✓' } },
    };
    const echoed = await rawPost(A, sid, echo, TOKENS.alice, both);
    const echoedText = await echoed.text();
    expect(echoedText).toContain('grüße ✓');
    expect(echoed.headers.get('content-length')).toBe(String(Buffer.byteLength(echoedText)));
    const call = {
      jsonrpc: '2.0',
      id: 2,
      method: 'tools/call',
      params: { name: 'longRunningOperation', arguments: { duration: 0.02, steps: 2 }, _meta: { progressToken: 'p' } },
    };
    const sse = await rawPost(A, sid, call, TOKENS.alice, both);
    expect(sse.headers.get('content-type')).toContain('text/event-stream');
    const events = await sse.text();
    expect(events).toContain('notifications/progress');
    expect(events).toContain('"id":2');
    const sseOnly = await rawPost(A, sid, { jsonrpc: '2.0', id: 3, method: 'ping' }, TOKENS.alice, 'text/event-stream');
    expect(sseOnly.headers.get('content-type')).toContain('text/event-stream');
    expect(await sseOnly.text()).toContain('data: {"result":{},"jsonrpc":"2.0","id":3}');
  });
});
