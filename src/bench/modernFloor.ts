/**
 * `npx tsx src/bench/modernFloor.ts`: the CPU one 2026-07-28 `tools/call echo` costs inside the
 * SDK's per-request entry (`createMcpHandler().fetch`), in process, without HTTP or Redis: once
 * with a bare `McpServer` (one low-level tools/call handler: the SDK's floor) and once with this
 * server's factory (`createMcpServer`), alternating, plus the factory alone. The difference between
 * the first two is what our server adds per request; the rest is the SDK's. Flags: --rounds 6,
 * --requests 3000 (per round and variant).
 */
import { parseArgs } from 'node:util';
import { createMcpHandler, InMemoryServerEventBus, McpServer, type McpHttpHandler } from '@modelcontextprotocol/server';
import { createRequestStateSeal, InProcessStateKeys } from '../mcp/requestState.js';
import { createMcpServer } from '../mcp/server.js';
import { createLogger } from '../observability/logger.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '6' }, requests: { type: 'string', default: '3000' } } });
const rounds = Number(values.rounds);
const requests = Number(values.requests);

const log = createLogger('silent');
const events = new InMemoryServerEventBus();
const requestState = createRequestStateSeal(new InProcessStateKeys(), 600);
const ours = () => createMcpServer({ userId: 'bench', log, events, requestState });
const bare = () => {
  const server = new McpServer({ name: 'bare', version: '1.0.0' });
  server.server.registerCapabilities({ tools: {} });
  server.server.setRequestHandler('tools/call', async (req) => ({
    content: [{ type: 'text', text: `Echo: ${String((req.params.arguments as { message?: unknown } | undefined)?.message)}` }],
  }));
  return server;
};
const handlers: Record<string, McpHttpHandler> = {
  bare: createMcpHandler(bare, { legacy: 'reject', bus: events }),
  ours: createMcpHandler(ours, { legacy: 'reject', bus: events }),
};

const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'echo' };
const META = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} };

/** CPU µs per request of `n` sequential echo calls through `handler`. */
async function measure(handler: McpHttpHandler, n: number): Promise<number> {
  const start = process.cpuUsage();
  for (let id = 0; id < n; id++) {
    const body = { jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { message: 'bench' }, _meta: META } };
    const res = await handler.fetch(new Request('http://bench/mcp', { method: 'POST', headers: HEADERS }), { parsedBody: body });
    await res.arrayBuffer();
  }
  const used = process.cpuUsage(start);
  return (used.user + used.system) / n;
}

const results: Record<string, number[]> = { bare: [], ours: [], factory: [] };
await measure(handlers['bare']!, 500); // warm-up
await measure(handlers['ours']!, 500);
for (let r = 0; r < rounds; r++) {
  for (const name of ['bare', 'ours']) results[name]!.push(await measure(handlers[name]!, requests));
  const start = process.cpuUsage();
  for (let i = 0; i < requests; i++) ours();
  const used = process.cpuUsage(start);
  results['factory']!.push((used.user + used.system) / requests);
}
process.stdout.write(`CPU µs per 2026-07-28 tools/call echo through createMcpHandler().fetch, in process, ${rounds} rounds of ${requests}\n`);
for (const [name, values] of Object.entries(results)) {
  process.stdout.write(`${name.padEnd(8)} ${values.map((v) => v.toFixed(0).padStart(5)).join(' ')}\n`);
}
process.stdout.write('bare = a bare McpServer (the SDK floor); ours = createMcpServer; factory = createMcpServer alone\n');
