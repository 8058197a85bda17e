/**
 * What happens when things go wrong: instances die or hang, clients vanish, the process is told
 * to stop. Every case must end in a prompt answer, never a hang, and leave nothing behind.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { CallToolResult } from '@modelcontextprotocol/client';
import { sessionOwnerKey } from '../redis/keys.js';
import { inspectRedis, redisEnv, startCluster, TOKENS, TOPOLOGY, type Cluster } from './cluster.js';
import { connectClient, initOnThenRoundRobin } from './mcpClient.js';

const HEADERS = {
  'Content-Type': 'application/json',
  Accept: 'application/json',
  Authorization: `Bearer ${TOKENS.alice}`,
};
const text = (r: unknown) => ((r as CallToolResult).content[0] as { text: string }).text;

async function waitFor(cond: () => Promise<boolean>): Promise<void> {
  while (!(await cond())) await new Promise((r) => setTimeout(r, 20));
}

describe('instance loss and hangs', () => {
  let c: Cluster;
  beforeEach(async () => {
    c = await startCluster(2, { RELAY_TIMEOUT_MS: '400' });
  });
  afterEach(() => c.close());

  test('the host instance dies: the next request on another instance takes the session over at once', async () => {
    const [A, B] = c.instances as [(typeof c.instances)[0], (typeof c.instances)[0]];
    const { client, transport } = await connectClient(A.url, TOKENS.alice, initOnThenRoundRobin(A.url, [B.url]));
    await client.setLoggingLevel('error');
    expect(A.routing.hostedCount).toBe(1);
    await A.kill();
    const t0 = Date.now();
    expect(text(await client.callTool({ name: 'echo', arguments: { message: 'survived' } }))).toBe('Echo: survived');
    expect(Date.now() - t0).toBeLessThan(400);
    expect(B.routing.hostedCount).toBe(1);
    // State that lives in Redis came along: the log level set before the loss still filters.
    const meta = await c.redis.hgetall(
      c.keyspace.sessionMeta(sessionOwnerKey('alice', 'test-client'), transport.sessionId!),
    );
    expect(meta['level']).toBe('error');
    expect(meta['host']).toBe(B.routing.instanceId);
    await client.close();
  });

  test('a host that receives but never answers: the client gets an error within the relay timeout', async () => {
    const [A] = c.instances;
    // Stand in for a hung host: subscribed to a session's inbound channel, silent forever.
    const hung = await inspectRedis();
    await hung.pubsub.subscribe(c.keyspace.sessionInbound(sessionOwnerKey('alice', 'test-client'), 'hung-session'));
    const t0 = Date.now();
    const res = await fetch(`${A!.url}/mcp`, {
      method: 'POST',
      headers: { ...HEADERS, 'Mcp-Session-Id': 'hung-session' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });
    expect(res.status).toBe(504);
    expect(await res.json()).toMatchObject({ jsonrpc: '2.0', id: 1, error: { code: -32000 } });
    expect(Date.now() - t0).toBeLessThan(2000);
    await hung.close();
  });

  test('a slow request outlives the relay timeout because the host sends heartbeats', async () => {
    const [A, B] = c.instances as [(typeof c.instances)[0], (typeof c.instances)[0]];
    const { client } = await connectClient(A.url, TOKENS.alice, initOnThenRoundRobin(A.url, [B.url]));
    // 1.2 s with no progress token = nothing on the stream but heartbeats, 3× the 400 ms timeout.
    const r = await client.callTool({ name: 'longRunningOperation', arguments: { duration: 1.2, steps: 1 } });
    expect(text(r)).toContain('completed');
    await client.close();
  });
});

describe('resources stay bounded', () => {
  test('Redis connections stay flat while 1,000 requests pass through two instances', async () => {
    const c = await startCluster(2);
    try {
      const [A, B] = c.instances.map((i) => i.url) as [string, string];
      const { client, transport } = await connectClient(A, TOKENS.alice, initOnThenRoundRobin(A, [A, B]));
      // Counted once the client's GET stream listens: its instance may need a subscriber for the
      // session's shard, opened when the stream opens, which the client does after connecting.
      const outbound = c.keyspace.sessionOutbound(sessionOwnerKey('alice', 'test-client'), transport.sessionId!);
      await waitFor(async () => (await c.receivers(outbound)) === 1);
      const before = await c.connectionCount();
      if (TOPOLOGY === 'cluster') {
        // Per instance: a command connection to each of the 6 nodes named as seeds (ioredis opens
        // the replicas' too, to mark them read-only), and a sharded subscriber for each of the 3
        // masters owning a channel it listens on: at most 9, whatever the traffic.
        expect(before).toBeGreaterThanOrEqual(2 * 4);
        expect(before).toBeLessThanOrEqual(2 * 9);
      } else {
        expect(before).toBe(4); // command + subscriber per instance
      }
      for (let batch = 0; batch < 50; batch++) {
        await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            client.callTool({ name: 'echo', arguments: { message: `${batch}-${i}` } }),
          ),
        );
      }
      expect(await c.connectionCount()).toBe(before);
      expect(c.instances.every((i) => i.routing.relay.size === 0)).toBe(true);
      await client.close();
    } finally {
      await c.close();
    }
  });

  test('no key of a session remains after DELETE, idle expiry, and instance shutdown', async () => {
    const c = await startCluster(2, { SESSION_IDLE_TTL_SECONDS: '1' });
    const [A, B] = c.instances.map((i) => i.url) as [string, string];
    const deleted = await connectClient(A, TOKENS.alice, initOnThenRoundRobin(A, [B]));
    await deleted.client.subscribeResource({ uri: 'test://static/resource/1' });
    await deleted.client.setLoggingLevel('debug');
    await deleted.transport.terminateSession();
    await deleted.client.close();
    // An abandoned session (no DELETE) expires once idle.
    const idle = await connectClient(B, TOKENS.alice, initOnThenRoundRobin(B, [A]));
    await idle.client.subscribeResource({ uri: 'test://static/resource/2' });
    await idle.transport.close();
    await waitFor(async () => (await c.keys()).every((k) => !k.includes(':session:') && !k.includes(':user:')));
    for (const i of c.instances) await i.stop();
    expect(await c.keys()).toEqual([]);
    await c.close();
  });
});

describe('SSE keep-alive', () => {
  test('idle streams receive keep-alive comments', async () => {
    // A short relay timeout makes the host's heartbeat open the stream early; then it idles.
    const c = await startCluster(1, { SSE_KEEPALIVE_MS: '100', RELAY_TIMEOUT_MS: '300' });
    try {
      const { client, transport } = await connectClient(c.instances[0]!.url, TOKENS.alice);
      const res = await fetch(`${c.instances[0]!.url}/mcp`, {
        method: 'POST',
        headers: { ...HEADERS, Accept: 'text/event-stream', 'Mcp-Session-Id': transport.sessionId! },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 'slow',
          method: 'tools/call',
          params: { name: 'longRunningOperation', arguments: { duration: 0.5, steps: 1 } },
        }),
      });
      const body = await res.text();
      expect(body).toContain(': keep-alive');
      expect(body).toContain('completed');
      await client.close();
    } finally {
      await c.close();
    }
  });
});

describe('the process', () => {
  const tsx = ['--import', 'tsx', 'src/index.ts'];
  const processEnv = {
    ...process.env,
    AUTH_MODE: 'none',
    PORT: '0',
    LOG_LEVEL: 'info',
    REDIS_PREFIX: `tproc${process.pid}`,
  };
  const baseEnv = { ...processEnv, ...redisEnv() };

  test('SIGTERM lets an in-flight request finish, then exits 0', async () => {
    const child = spawn(process.execPath, tsx, { env: baseEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor(async () => out.includes('MCP server listening'));
    const url = /"url":"([^"]+)"/.exec(out)![1]!;
    const init = await fetch(`${url}/mcp`, {
      method: 'POST',
      headers: { ...HEADERS },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } },
      }),
    });
    const sid = init.headers.get('mcp-session-id')!;
    // A call that streams progress: an SSE response in flight while the instance drains.
    const slow = fetch(`${url}/mcp`, {
      method: 'POST',
      headers: { ...HEADERS, Accept: 'application/json, text/event-stream', 'Mcp-Session-Id': sid },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 2,
        method: 'tools/call',
        params: { name: 'longRunningOperation', arguments: { duration: 0.6, steps: 6 }, _meta: { progressToken: 'p' } },
      }),
    });
    const res = await slow;
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let events = (await reader.read()).value ?? '';
    child.kill('SIGTERM');
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) events += chunk.value;
    const [code] = (await once(child, 'exit')) as [number];
    expect(code).toBe(0);
    expect(events).toContain('notifications/progress');
    expect(events).toContain('Long running operation completed');
    expect(out).toContain('shutdown complete');
  });

  test('REDIS_URL set but unreachable: exits non-zero with a clear message', async () => {
    const child = spawn(process.execPath, tsx, {
      env: { ...processEnv, REDIS_URL: 'redis://127.0.0.1:1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const [code] = (await once(child, 'exit')) as [number];
    expect(code).not.toBe(0);
    expect(err).toContain('cannot connect to Redis at redis://127.0.0.1:1');
  });

  test('a bad setting stops start-up with a message naming the variable', async () => {
    const child = spawn(process.execPath, tsx, {
      env: { ...baseEnv, PORT: 'eighty' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const [code] = (await once(child, 'exit')) as [number];
    expect(code).toBe(1);
    expect(err).toContain('PORT');
  });
});
