/**
 * `npx tsx src/bench/modernFloor.ts`: the CPU one 2026-07-28 `tools/call echo` costs in process,
 * without HTTP or Redis, on each way the modern lane can answer it (src/http/modernLane.ts),
 * alternating:
 *   - `entry bare`: the SDK's per-request entry (`createMcpHandler().fetch`, web Request in, web
 *     Response read back) with a bare `McpServer` (one low-level tools/call handler): the entry's floor;
 *   - `entry ours`: the same entry with this server's builder (`createMcpServer`);
 *   - `lane entry`: ModernLane with the direct path off (what every request cost before it);
 *   - `lane direct`: ModernLane's direct path (a pooled server, NodeModernExchange writing to a
 *     Node response without a socket);
 *   - `factory`: `createMcpServer` alone (what the pool saves per request).
 * The two lane rows include what the lane adds around the SDK (the header copy and abort signal of
 * the entry path, the exchange and pool of the direct one). Flags: --rounds 6, --requests 3000 (per
 * round and variant).
 */
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { parseArgs } from 'node:util';
import type { Request as ExpressRequest, Response as ExpressResponse } from 'express';
import { createMcpHandler, InMemoryServerEventBus, McpServer, type JSONRPCMessage, type McpHttpHandler } from '@modelcontextprotocol/server';
import { postLane } from '../http/lanes.js';
import { ModernLane } from '../http/modernLane.js';
import { createRequestStateSeal, InProcessStateKeys } from '../mcp/requestState.js';
import { createMcpServer } from '../mcp/server.js';
import { createLogger } from '../observability/logger.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '6' }, requests: { type: 'string', default: '3000' } } });
const rounds = Number(values.rounds);
const requests = Number(values.requests);

const log = createLogger('silent');
const events = new InMemoryServerEventBus();
const requestState = createRequestStateSeal(new InProcessStateKeys(), 600);
const ours = () => createMcpServer({ log, events, requestState });
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
const lane = (direct: boolean) =>
  new ModernLane({ build: ours, direct, bus: events, log, endpointUrl: 'http://bench/mcp', maxSubscriptions: 16, keepAliveMs: 15_000 });
const lanes = { entry: lane(false), direct: lane(true) };

const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'echo' };
const META = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} };
const echo = (id: number): JSONRPCMessage => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { message: 'bench' }, _meta: META } });

/** CPU µs per request of `n` sequential calls of `one`. */
async function measure(one: (id: number) => Promise<unknown>, n: number): Promise<number> {
  const start = process.cpuUsage();
  for (let id = 0; id < n; id++) {
    await one(id);
    // A turn of the event loop between requests, as between two HTTP requests: what a request
    // leaves to the end of its tick (the direct path hands its server back then) is done.
    await new Promise((resolve) => setImmediate(resolve));
  }
  const used = process.cpuUsage(start);
  return (used.user + used.system) / n;
}

const viaEntry = (handler: McpHttpHandler) => async (id: number) => {
  const res = await handler.fetch(new Request('http://bench/mcp', { method: 'POST', headers: HEADERS }), { parsedBody: echo(id) });
  return res.arrayBuffer();
};

/** One request through the lane, on a Node request and response without a socket (the response buffers what it is given). */
const viaLane = (modern: ModernLane) => async (id: number) => {
  const req = new IncomingMessage(new Socket());
  req.method = 'POST';
  Object.assign(req.headers, HEADERS);
  const res = new ServerResponse(req);
  const message = echo(id);
  const chosen = postLane(req.headers, message);
  if (chosen.lane !== 'modern') throw new Error('not a 2026-07-28 request');
  await modern.serve(req as unknown as ExpressRequest, res as unknown as ExpressResponse, message, chosen.verdict);
  if (res.statusCode !== 200) throw new Error(`answered ${res.statusCode}`);
};

const variants: Record<string, (id: number) => Promise<unknown>> = {
  'entry bare': viaEntry(handlers['bare']!),
  'entry ours': viaEntry(handlers['ours']!),
  'lane entry': viaLane(lanes.entry),
  'lane direct': viaLane(lanes.direct),
  factory: async () => ours(),
};
const results: Record<string, number[]> = {};
for (const one of Object.values(variants)) await measure(one, 500); // warm-up
for (let r = 0; r < rounds; r++) {
  for (const [name, one] of Object.entries(variants)) (results[name] ??= []).push(await measure(one, requests));
}
process.stdout.write(`CPU µs per 2026-07-28 tools/call echo, in process, ${rounds} rounds of ${requests}\n`);
for (const [name, values] of Object.entries(results)) {
  process.stdout.write(`${name.padEnd(12)} ${values.map((v) => v.toFixed(0).padStart(5)).join(' ')}\n`);
}
process.exit(0);
