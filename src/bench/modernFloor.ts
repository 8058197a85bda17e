/**
 * `npx tsx src/bench/modernFloor.ts`: the CPU one 2026-07-28 `tools/call echo` costs in process,
 * without HTTP or Redis, on each way it can be served, alternating (docs/performance.md, "The
 * 2026-07-28 lane"):
 *   - `entry bare`: the SDK's per-request entry (`createMcpHandler().fetch`: a web Request in, the
 *     web Response read back) with a bare `McpServer` (one low-level tools/call handler): the
 *     entry's floor;
 *   - `entry ours`: the same entry with this server's builder (`createMcpServer`);
 *   - `fresh+sdk`: a new server per request on the SDK's `PerRequestHTTPServerTransport` (the
 *     entry's own building blocks without the entry), its web Response read back;
 *   - `pooled+sdk`: the same with a pooled server;
 *   - `fresh+node`: a new server per request on NodeModernExchange (answers on a Node response);
 *   - `lane entry` / `lane direct`: src/http/modernLane.ts as it serves, with the direct path off
 *     (every request through the entry) and on (a pooled server on NodeModernExchange), classifier
 *     and adapters included;
 *   - `factory`: `createMcpServer` alone (what the pool saves per request, before garbage collection).
 * Node responses here have no socket: they keep what they are given. Every request is followed by
 * a turn of the event loop, as between two HTTP requests. Flags: --rounds 6, --requests 3000 (per
 * round and variant).
 */
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { parseArgs } from 'node:util';
import type { Request as ExpressRequest, Response as ExpressResponse } from 'express';
import {
  createMcpHandler,
  InMemoryServerEventBus,
  McpServer,
  PerRequestHTTPServerTransport,
  type JSONRPCMessage,
  type JSONRPCRequest,
  type McpHttpHandler,
} from '@modelcontextprotocol/server';
import { postLane } from '../http/lanes.js';
import { ModernLane } from '../http/modernLane.js';
import { NodeModernExchange } from '../http/modernExchange.js';
import { createRequestStateSeal, InProcessStateKeys } from '../mcp/requestState.js';
import { createMcpServer } from '../mcp/server.js';
import { createLogger } from '../observability/logger.js';

const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '6' }, requests: { type: 'string', default: '3000' } },
});
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
    content: [
      { type: 'text', text: `Echo: ${String((req.params.arguments as { message?: unknown } | undefined)?.message)}` },
    ],
  }));
  return server;
};
const lane = (direct: boolean) =>
  new ModernLane({
    build: ours,
    direct,
    bus: events,
    log,
    endpointUrl: 'http://bench/mcp',
    maxSubscriptions: 16,
    keepAliveMs: 15_000,
  });

const HEADERS = {
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  'mcp-protocol-version': '2026-07-28',
  'mcp-method': 'tools/call',
  'mcp-name': 'echo',
};
const META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientCapabilities': {},
};
const CLASSIFICATION = { era: 'modern' as const, revision: '2026-07-28' };
const echo = (id: number): JSONRPCRequest => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name: 'echo', arguments: { message: 'bench' }, _meta: META },
});

/** CPU µs per request of `n` sequential calls of `one`. */
async function measure(one: (id: number) => Promise<unknown>, n: number): Promise<number> {
  const start = process.cpuUsage();
  for (let id = 0; id < n; id++) {
    await one(id);
    // What a request leaves to the end of its tick (a server going back to its pool) is done by the next.
    await new Promise((resolve) => setImmediate(resolve));
  }
  const used = process.cpuUsage(start);
  return (used.user + used.system) / n;
}

const viaEntry = (handler: McpHttpHandler) => async (id: number) => {
  const res = await handler.fetch(new Request('http://bench/mcp', { method: 'POST', headers: HEADERS }), {
    parsedBody: echo(id),
  });
  return res.arrayBuffer();
};

/** The SDK's per-request transport on a server from `take`, given back (when pooled) once its exchange closed. */
const viaSdkTransport = (take: () => McpServer, give?: (server: McpServer) => void) => async (id: number) => {
  const server = take();
  const transport = new PerRequestHTTPServerTransport({ classification: CLASSIFICATION });
  transport.onclose = () => give?.(server);
  await server.connect(transport);
  const res = await transport.handleMessage(echo(id));
  return res.arrayBuffer();
};
const sdkPool: McpServer[] = [];

const socketless = () => {
  const req = new IncomingMessage(new Socket());
  req.method = 'POST';
  Object.assign(req.headers, HEADERS);
  return { req, res: new ServerResponse(req) };
};

const viaNodeExchange = async (id: number) => {
  const server = ours();
  const { res } = socketless();
  const exchange = new NodeModernExchange(res, CLASSIFICATION, 15_000, () => undefined);
  await server.connect(exchange);
  exchange.deliver(echo(id), undefined);
  return exchange.outcome;
};

/** One request through the lane, classifier included. */
const viaLane = (modern: ModernLane) => async (id: number) => {
  const { req, res } = socketless();
  const message: JSONRPCMessage = echo(id);
  const chosen = postLane(req.headers, message);
  if (chosen.lane !== 'modern') throw new Error('not a 2026-07-28 request');
  await modern.serve(req as unknown as ExpressRequest, res as unknown as ExpressResponse, message, chosen.verdict);
  if (res.statusCode !== 200) throw new Error(`answered ${res.statusCode}`);
};

const variants: Record<string, (id: number) => Promise<unknown>> = {
  'entry bare': viaEntry(createMcpHandler(bare, { legacy: 'reject', bus: events })),
  'entry ours': viaEntry(createMcpHandler(ours, { legacy: 'reject', bus: events })),
  'fresh+sdk': viaSdkTransport(ours),
  'pooled+sdk': viaSdkTransport(
    () => sdkPool.pop() ?? ours(),
    (server) => sdkPool.push(server),
  ),
  'fresh+node': viaNodeExchange,
  'lane entry': viaLane(lane(false)),
  'lane direct': viaLane(lane(true)),
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
