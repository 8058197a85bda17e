/**
 * What operators rely on, observed through a running pair of instances: metrics after a known
 * sequence of MCP calls, one call followed across instances by its request id, and the caps.
 */
import { createLogger } from '../observability/logger.js';
import { startCluster, TOKENS, type Cluster } from './cluster.js';
import { connectClient, initOnThenRoundRobin } from './mcpClient.js';
import { LogLines } from './logLines.js';

const HEADERS = {
  'Content-Type': 'application/json',
  Accept: 'application/json',
  Authorization: `Bearer ${TOKENS.alice}`,
};
const INIT = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'ops', version: '1' } },
};

function metric(text: string, name: string, labels = ''): number {
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`${name}${labels} `) || (labels === '' && l.startsWith(`${name} `)));
  return line ? Number(line.split(' ').pop()) : NaN;
}

describe('operations across two instances', () => {
  let c: Cluster;
  const logs = { A: new LogLines(), B: new LogLines() };
  beforeAll(async () => {
    c = await startCluster(0);
    await c.start({ LOG_LEVEL: 'debug' }, createLogger('debug', { destination: logs.A }));
    await c.start(
      { LOG_LEVEL: 'debug', MAX_SESSIONS_PER_USER: '3', MAX_STREAMS_PER_SESSION: '2' },
      createLogger('debug', { destination: logs.B }),
    );
  });
  afterAll(() => c.close());

  test('metrics after a known sequence: 5 tool calls relayed by B to the session hosted on A', async () => {
    const [A, B] = c.instances as [(typeof c.instances)[0], (typeof c.instances)[0]];
    const { client } = await connectClient(A.url, TOKENS.alice, initOnThenRoundRobin(A.url, [B.url]));
    for (let i = 0; i < 5; i++) await client.callTool({ name: 'echo', arguments: { message: String(i) } });
    const [a, b] = await Promise.all([A, B].map((i) => fetch(`${i.url}/metrics`).then((r) => r.text())));
    // The host counts what it handles; the relay measured how long each answer took to come back.
    expect(metric(a!, 'mcp_messages_total', '{method="tools/call",direction="in"}')).toBe(5);
    expect(metric(a!, 'mcp_messages_total', '{method="initialize",direction="in"}')).toBe(1);
    expect(metric(a!, 'mcp_active_sessions')).toBe(1);
    expect(metric(b!, 'mcp_active_sessions')).toBe(0);
    expect(metric(b!, 'mcp_routing_latency_seconds_count')).toBeGreaterThanOrEqual(5);
    expect(metric(b!, 'http_requests_total', '{method="POST",route="/mcp",status="200"}')).toBeGreaterThanOrEqual(5);
    await client.close();
  });

  test('one call can be followed across instances by its request id', async () => {
    const [A, B] = c.instances as [(typeof c.instances)[0], (typeof c.instances)[0]];
    const init = await fetch(`${A.url}/mcp`, { method: 'POST', headers: HEADERS, body: JSON.stringify(INIT) });
    const sid = init.headers.get('mcp-session-id')!;
    const res = await fetch(`${B.url}/mcp`, {
      method: 'POST',
      headers: { ...HEADERS, 'Mcp-Session-Id': sid, 'X-Request-Id': 'trace-me-42' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 2,
        method: 'tools/call',
        params: { name: 'echo', arguments: { message: 'x' } },
      }),
    });
    expect(res.headers.get('x-request-id')).toBe('trace-me-42');
    await res.text();
    expect(logs.B.lines.some((l) => l['reqId'] === 'trace-me-42' && l['msg'] === 'request completed')).toBe(true);
    // The hosting instance logged the same id for the same call.
    expect(logs.A.lines.some((l) => l['reqId'] === 'trace-me-42' && l['method'] === 'tools/call')).toBe(true);
  });

  // The per-user session cap (idle sessions evicted, busy ones refused) has its own suite: sessionCap.test.ts.
  test('caps: concurrent requests per session answer 429 with a JSON-RPC error', async () => {
    const B = c.instances[1]!;
    const r = await fetch(`${B.url}/mcp`, {
      method: 'POST',
      headers: { ...HEADERS, Authorization: `Bearer ${TOKENS.bob}` },
      body: JSON.stringify(INIT),
    });
    const sessions = [r.headers.get('mcp-session-id')!];
    await r.text();

    // Two slow calls occupy the session (hosted on B, MAX_STREAMS_PER_SESSION=2); the third is refused.
    const sid = sessions[0]!;
    const bob = {
      ...HEADERS,
      Authorization: `Bearer ${TOKENS.bob}`,
      'Mcp-Session-Id': sid,
      Accept: 'application/json, text/event-stream',
    };
    const slow = (id: number) =>
      fetch(`${B.url}/mcp`, {
        method: 'POST',
        headers: bob,
        body: JSON.stringify({
          jsonrpc: '2.0',
          id,
          method: 'tools/call',
          params: { name: 'longRunningOperation', arguments: { duration: 1, steps: 4 }, _meta: { progressToken: id } },
        }),
      });
    // Both in flight: each answered its first progress event (after 250 ms of a 1 s run).
    const running = await Promise.all([slow(10), slow(11)]);
    const third = await fetch(`${B.url}/mcp`, {
      method: 'POST',
      headers: bob,
      body: JSON.stringify({ jsonrpc: '2.0', id: 12, method: 'ping' }),
    });
    expect(third.status).toBe(429);
    expect(await third.json()).toMatchObject({ id: 12, error: { code: -32000 } });
    for (const r of running) expect(await r.text()).toContain('completed');
  });
});
