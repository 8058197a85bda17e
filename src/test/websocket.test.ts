/**
 * MCP over WebSocket (/ws) on the routing mesh, with instances on one real Redis: the SDK v2 Client
 * over a WebSocket transport, sessions hosted on another instance than the socket, the /mcp guard
 * chain before the 101, limits, keep-alive, expiry and shutdown.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { request as httpRequest } from 'node:http';
import { randomBytes } from 'node:crypto';
import { Client, type CallToolResult, type ClientCapabilities } from '@modelcontextprotocol/client';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { bearerAuth } from '../auth/bearer.js';
import { invalidToken } from '../auth/oauthError.js';
import { loadConfig } from '../config.js';
import { createLogger } from '../observability/logger.js';
import { sessionOwnerKey } from '../redis/keys.js';
import { removeKeysWithPrefix } from '../redis/removePrefix.js';
import { startServer, type RunningServer } from '../server.js';
import { REDIS_URL, startCluster, TOKENS, type Cluster, redisSettingsFor } from './cluster.js';
import {
  UpgradeRefusedError,
  WebSocketClientTransport,
  type ClosedWith,
  type WebSocketClientOptions,
} from './webSocketClientTransport.js';

const text = (r: unknown) => ((r as CallToolResult).content[0] as { text: string }).text;
const auth = (token: string = TOKENS.alice) => ({ Authorization: `Bearer ${token}` });
const wsUrl = (base: string) => new URL(`${base.replace(/^http/, 'ws')}/ws`);
const ALICE = sessionOwnerKey('alice', 'test-client');
const INIT = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
};

async function waitFor(cond: () => Promise<boolean> | boolean): Promise<void> {
  while (!(await cond())) await new Promise((r) => setTimeout(r, 10));
}

/** The SDK v2 Client over a WebSocket to `base`. */
async function connectWs(base: string, capabilities: ClientCapabilities = {}, opts: WebSocketClientOptions = {}) {
  const transport = new WebSocketClientTransport(wsUrl(base), { headers: auth(), ...opts });
  const client = new Client({ name: 'ws-test', version: '1.0.0' }, { capabilities });
  await client.connect(transport);
  return { client, transport };
}

/** A raw socket that queues what arrives: `next()` takes the next JSON-RPC message. */
class RawSocket {
  readonly ws: WebSocket;
  readonly closed: Promise<ClosedWith>;
  private readonly inbox: unknown[] = [];
  private waiter: (() => void) | undefined;

  constructor(base: string, headers: Record<string, string> = auth(), opts: WebSocket.ClientOptions = {}) {
    this.ws = new WebSocket(wsUrl(base), ['mcp'], { headers, ...opts });
    this.ws.on('message', (data) => {
      this.inbox.push(JSON.parse((data as Buffer).toString('utf8')));
      this.waiter?.();
    });
    this.closed = new Promise((resolve) =>
      this.ws.on('close', (code, reason) => {
        resolve({ code, reason: reason.toString() });
        this.waiter?.();
      }),
    );
  }

  opened(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** The next message; fails (instead of waiting forever) once the socket closed with nothing left. */
  async next(): Promise<Record<string, unknown>> {
    while (this.inbox.length === 0) {
      if (this.ws.readyState === WebSocket.CLOSED)
        throw new Error(`socket closed: ${JSON.stringify(await this.closed)}`);
      await new Promise<void>((r) => (this.waiter = r));
    }
    return this.inbox.shift() as Record<string, unknown>;
  }

  /** Opens and initializes a session; returns the InitializeResult message. */
  async initialize(): Promise<Record<string, unknown>> {
    await this.opened();
    this.send(INIT);
    const result = await this.next();
    this.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    return result;
  }
}

/** The HTTP answer to an upgrade the server refuses. */
async function refusal(base: string, opts: WebSocketClientOptions): Promise<UpgradeRefusedError> {
  const t = new WebSocketClientTransport(wsUrl(base), opts);
  const err = await t.start().then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof UpgradeRefusedError)) throw new Error(`expected an HTTP refusal, got ${String(err)}`);
  return err;
}

async function metricsOf(server: RunningServer): Promise<string> {
  return (await server.metrics.exposition()).body;
}

function metric(body: string, line: string): number {
  const m = new RegExp(`^${line.replace(/[{}"\\]/g, '\\$&')} (\\S+)$`, 'm').exec(body);
  return m ? Number(m[1]) : NaN;
}

describe('WebSocket sessions across two instances', () => {
  let c: Cluster;
  let A: RunningServer;
  let B: RunningServer;
  const sessionKeys = async (sid: string) => (await c.keys()).filter((k) => k.includes(sid));
  beforeAll(async () => {
    c = await startCluster(2);
    [A, B] = c.instances as [RunningServer, RunningServer];
  });
  // Every test's sessions are gone before the next starts (a closed socket ends its session).
  afterEach(() =>
    waitFor(async () => (await c.keys()).every((k) => !k.includes(':session:') && !k.includes(':user:'))),
  );
  afterAll(() => c.close());

  test('the SDK Client over /ws: tools and progress; closing the socket ends the session everywhere', async () => {
    const { client, transport } = await connectWs(A.url);
    expect(text(await client.callTool({ name: 'echo', arguments: { message: 'over ws' } }))).toBe('Echo: over ws');
    const progress: number[] = [];
    const result = await client.callTool(
      { name: 'longRunningOperation', arguments: { duration: 0.06, steps: 3 } },
      {
        onprogress: (p) => progress.push(p.progress),
      },
    );
    expect(text(result)).toContain('completed');
    // The SDK client handles a notification a microtask after the response that follows it on the
    // wire, so the last progress event may come after the call returned (wire order: next test).
    expect(progress.slice(0, 2)).toEqual([1, 2]);
    expect(A.routing.hostedCount).toBe(1);
    const [sid] = await A.routing.store.listForUser(ALICE);
    expect(sid).toBeDefined();
    // The session is a 2025-11-25 session of the mesh, listed from any instance as a WebSocket one.
    const listed = (await (await fetch(`${B.url}/sessions`, { headers: auth() })).json()) as {
      sessions: Array<{ id: string; transport: string; protocolVersion: string }>;
    };
    expect(listed.sessions).toEqual([
      expect.objectContaining({ id: sid, transport: 'websocket', protocolVersion: '2025-11-25' }),
    ]);
    await client.close();
    expect(await transport.closed).toEqual({ code: 1000, reason: '' });
    await waitFor(async () => (await sessionKeys(sid!)).length === 0 && A.routing.hostedCount === 0);
  });

  test('sampling requested by a tool is answered by the client over the socket', async () => {
    const { client } = await connectWs(A.url, { sampling: {} });
    client.setRequestHandler('sampling/createMessage', async (req) => ({
      role: 'assistant',
      model: 'test-model',
      content: { type: 'text', text: `sampled: ${(req.params.messages[0]!.content as { text: string }).text}` },
    }));
    expect(
      text(await client.callTool({ name: 'sampleLLM', arguments: { prompt: 'by socket', maxTokens: 5 } })),
    ).toContain('sampled: by socket');
    await client.close();
  });

  test('a resource update raised on another instance reaches the socket', async () => {
    const { client } = await connectWs(A.url);
    const updated = new Promise<string>((resolve) =>
      client.setNotificationHandler('notifications/resources/updated', (n) => resolve(n.params.uri)),
    );
    await client.subscribeResource({ uri: 'test://static/resource/7' });
    // B announces the change (as its simulator would); A's host notifies through the outbound channel.
    await B.routing.bus.publish(
      B.routing.keys.serverEvents(),
      JSON.stringify({ kind: 'resource_updated', uri: 'test://static/resource/7' }),
    );
    expect(await updated).toBe('test://static/resource/7');
    await client.close();
  });

  test('the session is bound to its user and client; ended by its owner elsewhere (DELETE /sessions/<id> on B), the socket closes with 4404', async () => {
    const { client, transport } = await connectWs(A.url);
    const [sid] = await A.routing.store.listForUser(ALICE);
    // Another user neither sees nor reaches it: the same 404 as an unknown session.
    expect(
      ((await (await fetch(`${B.url}/sessions`, { headers: auth(TOKENS.bob) })).json()) as { sessions: unknown[] })
        .sessions,
    ).toEqual([]);
    expect((await fetch(`${B.url}/sessions/${sid}`, { method: 'DELETE', headers: auth(TOKENS.bob) })).status).toBe(404);
    const asBob = await fetch(`${B.url}/mcp`, {
      method: 'POST',
      headers: {
        ...auth(TOKENS.bob),
        'Content-Type': 'application/json',
        Accept: 'application/json',
        'Mcp-Session-Id': sid!,
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });
    expect(asBob.status).toBe(404);
    expect(text(await client.callTool({ name: 'echo', arguments: { message: 'untouched' } }))).toBe('Echo: untouched');
    const res = await fetch(`${B.url}/sessions/${sid}`, { method: 'DELETE', headers: auth() });
    expect(res.status).toBe(200);
    expect(await transport.closed).toEqual({ code: 4404, reason: 'session ended' });
    expect(await sessionKeys(sid!)).toEqual([]);
  });

  test('guards before the 101: no token and a bad token get the /mcp challenge, a foreign Origin 403, and no socket opens', async () => {
    const mcp = await fetch(`${A.url}/mcp`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(INIT),
    });
    const none = await refusal(A.url, {});
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe(mcp.headers.get('www-authenticate'));
    expect(JSON.parse(none.body)).toEqual(await mcp.json());
    const bad = await refusal(A.url, { headers: auth('not-a-token') });
    expect(bad.status).toBe(401);
    expect(bad.headers['www-authenticate']).toMatch(/^Bearer error="invalid_token"/);
    const evil = await refusal(A.url, { headers: { ...auth(), Origin: 'http://evil.example.com' } });
    expect(evil.status).toBe(403);
    expect(JSON.parse(evil.body)).toMatchObject({ error: { code: -32600, message: 'Forbidden: Origin not allowed' } });
    const before = metric(await metricsOf(A), 'mcp_websockets_opened_total');
    const allowed = await connectWs(A.url, {}, { headers: { ...auth(), Origin: A.config.ALLOWED_ORIGINS[0]! } });
    await allowed.client.close();
    // Only the allowed one opened a socket.
    expect(metric(await metricsOf(A), 'mcp_websockets_opened_total')).toBe(before + 1);
    const body = await metricsOf(A);
    expect(metric(body, 'mcp_auth_failures_total{reason="missing_token"}')).toBeGreaterThanOrEqual(1);
    expect(metric(body, 'http_requests_total{method="GET",route="/ws",status="401"}')).toBe(2);
    expect(metric(body, 'http_requests_total{method="GET",route="/ws",status="403"}')).toBe(1);
  });

  test('handshake refusals are JSON-RPC errors: no "mcp" subprotocol → 400, plain GET → 426', async () => {
    const noMcp = await refusal(A.url, { headers: auth(), protocols: ['chat'] });
    expect(noMcp.status).toBe(400);
    expect(JSON.parse(noMcp.body)).toMatchObject({ jsonrpc: '2.0', error: { code: -32600 } });
    const plain = await fetch(`${A.url}/ws`, { headers: auth() });
    expect(plain.status).toBe(426);
    expect(plain.headers.get('upgrade')).toBe('websocket');
  });

  test('protocol on a socket: pings only before initialize, parse errors, 2026-07-28 envelopes and a second initialize refused', async () => {
    const s = new RawSocket(A.url);
    await s.opened();
    s.send({ jsonrpc: '2.0', id: 'early', method: 'tools/list' });
    expect(await s.next()).toMatchObject({
      id: 'early',
      error: { code: -32600, message: 'Invalid Request: send initialize first' },
    });
    s.send({ jsonrpc: '2.0', id: 'p', method: 'ping' });
    expect(await s.next()).toEqual({ jsonrpc: '2.0', id: 'p', result: {} });
    s.send('{"jsonrpc":');
    expect(await s.next()).toMatchObject({ id: null, error: { code: -32700 } });
    s.send([{ jsonrpc: '2.0', id: 2, method: 'ping' }]);
    expect(await s.next()).toMatchObject({ id: null, error: { code: -32600 } });
    s.send(INIT);
    expect(await s.next()).toMatchObject({ id: 1, result: { protocolVersion: '2025-11-25' } });
    s.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    s.send({ ...INIT, id: 'again' });
    expect(await s.next()).toMatchObject({ id: 'again', error: { code: -32600 } });
    s.send({
      jsonrpc: '2.0',
      id: 'modern',
      method: 'tools/list',
      params: { _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28' } },
    });
    expect(await s.next()).toMatchObject({ id: 'modern', error: { code: -32600 } });
    s.send({
      jsonrpc: '2.0',
      id: 3,
      method: 'tools/call',
      params: { name: 'echo', arguments: { message: 'still here' } },
    });
    expect(await s.next()).toMatchObject({ id: 3, result: { content: [{ text: 'Echo: still here' }] } });
    // Everything of a call rides the one socket in the order the host sent it: progress, then the answer.
    s.send({
      jsonrpc: '2.0',
      id: 4,
      method: 'tools/call',
      params: { name: 'longRunningOperation', arguments: { duration: 0.03, steps: 3 }, _meta: { progressToken: 'p' } },
    });
    const seen: string[] = [];
    for (;;) {
      const m = (await s.next()) as { id?: number; params?: { progress: number } };
      seen.push(m.params ? `progress ${m.params.progress}` : `response ${m.id}`);
      if (m.id !== undefined) break;
    }
    expect(seen).toEqual(['progress 1', 'progress 2', 'progress 3', 'response 4']);
    s.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    expect(await s.closed).toEqual({ code: 1003, reason: 'binary frames are not supported' });
  });

  test('a failed initialize ends the session, as on /mcp: the error answer, then 4404', async () => {
    const s = new RawSocket(A.url);
    await s.opened();
    s.send({ jsonrpc: '2.0', id: 'bad', method: 'initialize', params: { protocolVersion: '2025-11-25' } });
    expect(await s.next()).toMatchObject({ id: 'bad', error: { code: expect.any(Number) } });
    expect(await s.closed).toEqual({ code: 4404, reason: 'session ended' });
  });

  test('a frame larger than MAX_BODY_BYTES closes the socket with 1009', async () => {
    const small = await c.start({ MAX_BODY_BYTES: '2048' });
    const s = new RawSocket(small.url);
    await s.initialize();
    s.send({
      jsonrpc: '2.0',
      id: 2,
      method: 'tools/call',
      params: { name: 'echo', arguments: { message: 'x'.repeat(3000) } },
    });
    expect((await s.closed).code).toBe(1009);
    await waitFor(() => small.routing.hostedCount === 0);
    expect(metric(await metricsOf(small), 'mcp_websockets_closed_total{reason="protocol_error"}')).toBe(1);
  });

  test('MAX_WEBSOCKETS_PER_INSTANCE: one socket too many gets 503 with Retry-After, and a freed slot is reused', async () => {
    const capped = await c.start({ MAX_WEBSOCKETS_PER_INSTANCE: '1' });
    const first = await connectWs(capped.url);
    const second = await refusal(capped.url, { headers: auth(TOKENS.bob) });
    expect(second.status).toBe(503);
    expect(second.headers['retry-after']).toBe('1');
    expect(JSON.parse(second.body)).toMatchObject({ error: { code: -32000 } });
    await first.client.close();
    await waitFor(() => capped.routing.hostedCount === 0);
    const third = await connectWs(capped.url);
    await third.client.close();
  });

  test('MAX_SESSIONS_PER_USER is answered 429 before the 101', async () => {
    const capped = await c.start({ MAX_SESSIONS_PER_USER: '1' });
    const first = await connectWs(capped.url, {}, { headers: auth(TOKENS.bob) });
    const second = await refusal(capped.url, { headers: auth(TOKENS.bob) });
    expect(second.status).toBe(429);
    expect(JSON.parse(second.body)).toMatchObject({
      error: { code: -32000, message: expect.stringContaining('too many open sessions') },
    });
    await first.client.close();
  });

  test("messages on a socket count against the user's rate limit, on the same counter as /mcp", async () => {
    // The upgrade is 1; initialize and notifications/initialized 2 and 3; two calls 4 and 5.
    const limited = await c.start({
      RATE_LIMIT_ENABLED: 'true',
      RATE_LIMIT_PER_USER: '5',
      RATE_LIMIT_PER_ADDRESS: '1000',
    });
    const s = new RawSocket(limited.url, auth(TOKENS.bob));
    await s.initialize();
    for (const id of [2, 3]) {
      s.send({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { message: 'counted' } } });
      expect(await s.next()).toMatchObject({ id, result: {} });
    }
    s.send({
      jsonrpc: '2.0',
      id: 4,
      method: 'tools/call',
      params: { name: 'echo', arguments: { message: 'one too many' } },
    });
    expect(await s.next()).toMatchObject({
      id: 4,
      error: { code: -32000, message: expect.stringMatching(/^Rate limit exceeded; retry after \d+ s$/) },
    });
    // The same budget: bob's next request over HTTP is refused too.
    const http = await fetch(`${limited.url}/sessions`, { headers: auth(TOKENS.bob) });
    expect(http.status).toBe(429);
    expect(metric(await metricsOf(limited), 'mcp_rate_limit_rejections_total{scope="user"}')).toBe(2);
    s.ws.close();
  });

  test('a slow consumer is closed with 4008 once its send buffer is full; memory stays bounded', async () => {
    const tight = await c.start({ WEBSOCKET_SEND_BUFFER_BYTES: '65536' });
    const s = new RawSocket(tight.url);
    await s.initialize();
    // The client stops reading: the server's answers pile up in the kernel, then in its buffer.
    (s.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
    const big = 'y'.repeat(256 * 1024);
    for (let i = 0; i < 80; i++)
      s.send({
        jsonrpc: '2.0',
        id: 100 + i,
        method: 'tools/call',
        params: { name: 'echo', arguments: { message: big } },
      });
    await waitFor(async () => metric(await metricsOf(tight), 'mcp_websocket_slow_consumers_total') === 1);
    // The server stopped sending: once the client reads again, what was buffered drains, then the close frame.
    (s.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    expect(await s.closed).toEqual({ code: 4008, reason: 'slow consumer: send buffer full' });
    await waitFor(() => tight.routing.hostedCount === 0);
    // Counted when the server's side of the socket has closed too.
    await waitFor(
      async () => metric(await metricsOf(tight), 'mcp_websockets_closed_total{reason="slow_consumer"}') === 1,
    );
    const body = await metricsOf(tight);
    // It stopped sending at the bound: far from every answer went out (1 initialize result + 80 echoes).
    expect(metric(body, 'mcp_websocket_messages_total{direction="out"}')).toBeLessThan(81);
  });

  test('a peer that stops answering pings is dropped and its session ends', async () => {
    const quick = await c.start({ WEBSOCKET_PING_INTERVAL_MS: '100' });
    const { transport } = await connectWs(quick.url, {}, { autoPong: false });
    expect((await transport.closed).code).toBe(1006);
    await waitFor(() => quick.routing.hostedCount === 0);
    expect(metric(await metricsOf(quick), 'mcp_websockets_closed_total{reason="ping_timeout"}')).toBe(1);
  });

  test('a peer that answers pings stays, and keeps its session from idling out', async () => {
    const quick = await c.start({ WEBSOCKET_PING_INTERVAL_MS: '100', SESSION_IDLE_TTL_SECONDS: '1' });
    const { client } = await connectWs(quick.url);
    // Three idle TTLs with no MCP traffic: only the keep-alive touches keep the session.
    await new Promise((r) => setTimeout(r, 3000));
    expect(text(await client.callTool({ name: 'echo', arguments: { message: 'alive' } }))).toBe('Echo: alive');
    await client.close();
  });

  test('metrics: open sockets, opened and closed by reason, frames in and out', async () => {
    const m = await c.start();
    const { client } = await connectWs(m.url);
    await client.callTool({ name: 'echo', arguments: { message: 'count me' } });
    let body = await metricsOf(m);
    expect(metric(body, 'mcp_active_websockets')).toBe(1);
    expect(metric(body, 'mcp_websockets_opened_total')).toBe(1);
    // initialize, notifications/initialized, tools/call in; two answers out.
    expect(metric(body, 'mcp_websocket_messages_total{direction="in"}')).toBe(3);
    expect(metric(body, 'mcp_websocket_messages_total{direction="out"}')).toBe(2);
    expect(metric(body, 'http_requests_total{method="GET",route="/ws",status="101"}')).toBe(1);
    await client.close();
    await waitFor(async () => metric(await metricsOf(m), 'mcp_websockets_closed_total{reason="client_closed"}') === 1);
    body = await metricsOf(m);
    expect(metric(body, 'mcp_active_websockets')).toBe(0);
    expect(metric(body, 'mcp_websockets_closed_total{reason="slow_consumer"}')).toBe(0);
  });

  test("fifty sockets share the instance's two Redis connections, and leave nothing behind when they close", async () => {
    const connections = async () =>
      ((await c.redis.client('LIST')) as string).split('\n').filter((l) => l.includes(` name=${c.prefix}-`)).length;
    const before = { connections: await connections(), channels: A.routing.bus.channelCount };
    const clients = await Promise.all(Array.from({ length: 50 }, () => connectWs(A.url)));
    await Promise.all(
      clients.map(({ client }, i) => client.callTool({ name: 'echo', arguments: { message: String(i) } })),
    );
    expect(await connections()).toBe(before.connections);
    // One inbound (host) and one outbound (socket) channel per session.
    expect(A.routing.bus.channelCount).toBe(before.channels + 100);
    await Promise.all(clients.map(({ client }) => client.close()));
    // Each socket's end sends the host a delete and waits on a relay for its confirmation, which can
    // arrive after the host has already dropped the session: the relays are part of "nothing left".
    await waitFor(
      async () =>
        A.routing.hostedCount === 0 &&
        A.routing.relay.size === 0 &&
        A.routing.bus.channelCount === before.channels &&
        (await c.keys()).every((k) => !k.includes(':session:')),
    );
    expect(metric(await metricsOf(A), 'mcp_active_websockets')).toBe(0);
  });

  test('graceful stop (what SIGTERM runs) closes sockets with 1001 "going away" and ends their sessions', async () => {
    const D = await c.start();
    const { transport } = await connectWs(D.url);
    const [sid] = await D.routing.store.listForUser(ALICE);
    const stopped = D.stop();
    expect(await transport.closed).toEqual({ code: 1001, reason: 'server shutting down' });
    await stopped;
    expect(await sessionKeys(sid!)).toEqual([]);
  });

  test('an Upgrade header on another path (h2c): a bodyless request is served as usual, one with a body is answered, never hung', async () => {
    const answer = (path: string, method: string, body?: string) =>
      new Promise<number>((resolve, reject) => {
        const req = httpRequest(
          `${A.url}${path}`,
          { method, headers: { Connection: 'Upgrade', Upgrade: 'h2c', 'Content-Type': 'application/json' } },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    expect(await answer('/health', 'GET')).toBe(200);
    // Node 20 hands the request to the upgrade listener with its body unparsed: refused, not hung.
    // Node ≥ 22.21 serves it as an ordinary request (shouldUpgradeCallback): a 401 without a token.
    expect([400, 401]).toContain(await answer('/mcp', 'POST', JSON.stringify(INIT)));
  });
});

describe('WebSocket sessions and instance loss', () => {
  let c: Cluster;
  beforeEach(async () => {
    c = await startCluster(2, { RELAY_TIMEOUT_MS: '400' });
  });
  afterEach(() => c.close());

  test('hosted on B while the socket is on A; B dies: the next request from the socket takes the session over', async () => {
    const [A, B] = c.instances as [RunningServer, RunningServer];
    const { client } = await connectWs(A.url);
    await client.setLoggingLevel('error');
    const [sid] = await A.routing.store.listForUser(ALICE);
    const outbound = c.keyspace.sessionOutbound(ALICE, sid!);

    // A's subscriber connection drops: A gives up hosting; its socket stays open, and listens again
    // once the connection is back. A request on B then takes the session over.
    await c.dropSubscriber(A);
    await waitFor(async () => A.routing.hostedCount === 0 && (await c.receivers(outbound)) === 1);
    const ping = await fetch(`${B.url}/mcp`, {
      method: 'POST',
      headers: {
        ...auth(),
        'Content-Type': 'application/json',
        Accept: 'application/json',
        'Mcp-Session-Id': sid!,
        'MCP-Protocol-Version': '2025-11-25',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 'move', method: 'ping' }),
    });
    expect(ping.status).toBe(200);
    expect(B.routing.hostedCount).toBe(1);

    // Calls from the socket on A now run on B; progress and the answer cross Redis back to A.
    const progress: number[] = [];
    const moved = await client.callTool(
      { name: 'longRunningOperation', arguments: { duration: 0.04, steps: 2 } },
      {
        onprogress: (p) => progress.push(p.progress),
      },
    );
    expect(text(moved)).toContain('completed');
    expect(progress[0]).toBe(1);

    await B.kill();
    const t0 = Date.now();
    expect(text(await client.callTool({ name: 'echo', arguments: { message: 'survived' } }))).toBe('Echo: survived');
    expect(Date.now() - t0).toBeLessThan(400);
    expect(A.routing.hostedCount).toBe(1);
    // The replayed session kept its Redis state.
    const meta = await c.redis.hgetall(c.keyspace.sessionMeta(ALICE, sid!));
    expect(meta).toMatchObject({ level: 'error', host: A.routing.instanceId });
    await client.close();
  });

  test('a request in flight when its host dies gets a JSON-RPC error within the relay timeout, and the socket serves on', async () => {
    const [A, B] = c.instances as [RunningServer, RunningServer];
    const s = new RawSocket(A.url);
    await s.initialize();
    const [sid] = await A.routing.store.listForUser(ALICE);
    const outbound = c.keyspace.sessionOutbound(ALICE, sid!);
    await c.dropSubscriber(A);
    await waitFor(async () => A.routing.hostedCount === 0 && (await c.receivers(outbound)) === 1);
    await fetch(`${B.url}/mcp`, {
      method: 'POST',
      headers: { ...auth(), 'Content-Type': 'application/json', Accept: 'application/json', 'Mcp-Session-Id': sid! },
      body: JSON.stringify({ jsonrpc: '2.0', id: 'move', method: 'ping' }),
    });
    expect(B.routing.hostedCount).toBe(1);
    s.send({
      jsonrpc: '2.0',
      id: 'slow',
      method: 'tools/call',
      params: { name: 'longRunningOperation', arguments: { duration: 30, steps: 1 } },
    });
    await waitFor(() => B.routing.relay.size === 0 && A.routing.relay.size === 1);
    await B.kill();
    expect(await s.next()).toMatchObject({
      id: 'slow',
      error: { code: -32000, message: 'Session host did not respond in time' },
    });
    s.send({ jsonrpc: '2.0', id: 'after', method: 'ping' });
    expect(await s.next()).toEqual({ jsonrpc: '2.0', id: 'after', result: {} });
    s.ws.close();
  });

  test("the socket's own instance dies: the client sees the connection drop and starts a new session elsewhere", async () => {
    const [A, B] = c.instances as [RunningServer, RunningServer];
    const first = await connectWs(A.url);
    await A.kill();
    expect((await first.transport.closed).code).toBe(1006);
    const second = await connectWs(B.url);
    expect(text(await second.client.callTool({ name: 'echo', arguments: { message: 'new session' } }))).toBe(
      'Echo: new session',
    );
    expect(B.routing.hostedCount).toBe(1);
    await second.client.close();
  });
});

describe('the process', () => {
  test('SIGTERM closes open sockets with 1001 "going away", ends their sessions, and exits 0', async () => {
    const prefix = `proc${process.pid}ws`;
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/index.ts'], {
      env: { ...process.env, AUTH_MODE: 'none', PORT: '0', LOG_LEVEL: 'info', REDIS_URL, REDIS_PREFIX: prefix },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await waitFor(() => out.includes('MCP server listening'));
      const url = /"url":"([^"]+)"/.exec(out)![1]!;
      const s = new RawSocket(url, {});
      expect(await s.initialize()).toMatchObject({ id: 1, result: {} });
      child.kill('SIGTERM');
      expect(await s.closed).toEqual({ code: 1001, reason: 'server shutting down' });
      const [code] = (await once(child, 'exit')) as [number];
      expect(code).toBe(0);
      expect(out).toContain('"reason":"going_away"');
      expect(out).toContain('shutdown complete');
      // The session ended before the instance let go of Redis: nothing of it remains.
      const redis = new Redis(REDIS_URL);
      expect(await redis.keys(`${prefix}:session:*`)).toEqual([]);
      redis.disconnect();
    } finally {
      child.kill('SIGKILL');
      await removeKeysWithPrefix(redisSettingsFor({ REDIS_URL }), prefix);
    }
  });
});

describe('WebSocket sessions and their token', () => {
  const prefix = `t${randomBytes(5).toString('hex')}`;
  /** Accepted tokens and their expiry (epoch seconds); a token removed from here is revoked. */
  const tokens = new Map<string, number>();
  let server: RunningServer;
  const carol = sessionOwnerKey('carol', 'test-client');
  beforeAll(async () => {
    server = await startServer(
      loadConfig({
        REDIS_URL,
        REDIS_PREFIX: prefix,
        PORT: '0',
        HOST: '127.0.0.1',
        AUTH_MODE: 'none',
        LOG_LEVEL: 'silent',
        RATE_LIMIT_ENABLED: 'false',
        WEBSOCKET_PING_INTERVAL_MS: '100',
      }),
      createLogger('silent'),
      {
        auth: {
          authenticate: bearerAuth({
            verifier: {
              async verifyAccessToken(token) {
                const expiresAt = tokens.get(token);
                if (expiresAt === undefined) throw invalidToken('unknown or revoked test token');
                return { token, clientId: 'test-client', scopes: [], expiresAt, extra: { userId: 'carol' } };
              },
            },
          }),
        },
      },
    );
  });
  afterAll(async () => {
    await server.stop();
    await removeKeysWithPrefix(redisSettingsFor({ REDIS_URL }), prefix);
  });
  afterEach(() =>
    waitFor(
      async () => (await server.routing.store.listForUser(carol)).length === 0 && server.routing.hostedCount === 0,
    ),
  );

  test('a token that expires while the socket is open ends the session with 4401', async () => {
    // At least a second left (expiresAt is in whole seconds): the socket opens and initializes first.
    tokens.set('short-lived', Math.floor(Date.now() / 1000) + 2);
    const s = new RawSocket(server.url, { Authorization: 'Bearer short-lived' });
    await s.initialize();
    expect(await server.routing.store.listForUser(carol)).toHaveLength(1);
    expect(await s.closed).toEqual({ code: 4401, reason: 'access token expired' });
    await waitFor(
      async () => metric(await metricsOf(server), 'mcp_websockets_closed_total{reason="token_expired"}') === 1,
    );
    // An expired token cannot open a new socket either.
    const again = await refusal(server.url, { headers: { Authorization: 'Bearer short-lived' } });
    expect(again.status).toBe(401);
  });

  test('a token revoked while the socket is open ends the session with 4401 at the next keep-alive', async () => {
    tokens.set('revocable', Math.floor(Date.now() / 1000) + 3600);
    const s = new RawSocket(server.url, { Authorization: 'Bearer revocable' });
    await s.initialize();
    // Several keep-alive ticks pass: the token is asked about again each time, and still accepted.
    await new Promise((r) => setTimeout(r, 350));
    s.send({ jsonrpc: '2.0', id: 2, method: 'ping' });
    expect(await s.next()).toEqual({ jsonrpc: '2.0', id: 2, result: {} });
    tokens.delete('revocable');
    expect(await s.closed).toEqual({ code: 4401, reason: 'access token no longer valid' });
    await waitFor(
      async () => metric(await metricsOf(server), 'mcp_websockets_closed_total{reason="token_revoked"}') === 1,
    );
  });
});
