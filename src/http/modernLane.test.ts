/**
 * The modern lane's two ways through (modernLane.ts): the direct path on pooled servers must answer
 * exactly as the SDK's entry (`createMcpHandler`) does. Two lanes, one with the direct path and one
 * without, each behind a bare HTTP server, get the same requests: valid ones, and ones that break
 * each rung of the validation ladder. Their answers must be identical, and the direct lane must
 * have answered the plain requests itself. Then: pooled servers serve one caller after another
 * without carrying anything over, and closing the response cancels the call.
 */
import { EventEmitter, once } from 'node:events';
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { Request, Response } from 'express';
import {
  InMemoryServerEventBus,
  McpServer,
  SUPPORTED_PROTOCOL_VERSIONS,
  type AuthInfo,
} from '@modelcontextprotocol/server';
import { createRequestStateSeal, InProcessStateKeys } from '../mcp/requestState.js';
import { createMcpServer, MODERN_PROTOCOL_VERSIONS } from '../mcp/server.js';
import { captureLogs } from '../mcp/testing/connectClient.js';
import { postLane } from './lanes.js';
import { ModernLane, type ServedBy } from './modernLane.js';

const VERSION = '2026-07-28';
const events = new InMemoryServerEventBus();
const requestState = createRequestStateSeal(new InProcessStateKeys(), 600);
const { log } = captureLogs();

interface Harness {
  url: string;
  lane: ModernLane;
  served: ServedBy[];
  builds: () => number;
  close: () => Promise<void>;
}

/** A lane behind a bare HTTP server: the body parsed, the lane chosen, a test user as the caller. */
async function startLane(
  direct: boolean,
  build: () => McpServer = () => createMcpServer({ log, events, requestState }),
): Promise<Harness> {
  const served: ServedBy[] = [];
  let builds = 0;
  const lane = new ModernLane({
    build: () => {
      builds++;
      return build();
    },
    direct,
    bus: events,
    log,
    endpointUrl: 'http://127.0.0.1/mcp',
    maxSubscriptions: 4,
    keepAliveMs: 15_000,
    onServed: (path) => served.push(path),
  });
  const http: HttpServer = createServer((req, res) => void handle(lane, req, res));
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`;
  return {
    url,
    lane,
    served,
    builds: () => builds,
    close: async () => {
      await lane.close();
      http.closeAllConnections();
      http.close();
    },
  };
}

async function handle(lane: ModernLane, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const message = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  const user = req.headers['x-test-user'];
  if (typeof user === 'string') {
    const auth: AuthInfo = {
      token: 'opaque',
      clientId: 'test-client',
      scopes: [],
      expiresAt: Math.floor(Date.now() / 1000) + 600,
      extra: { userId: user },
    };
    (req as IncomingMessage & { auth?: AuthInfo }).auth = auth;
  }
  const chosen = postLane(req.headers, message);
  if (chosen.lane !== 'modern') throw new Error(`not a 2026-07-28 request: ${chosen.lane}`);
  await lane.serve(req as unknown as Request, res as unknown as Response, message, chosen.verdict);
}

interface Call {
  method: string;
  params?: Record<string, unknown>;
  id?: string | number;
  /** Client capabilities in the envelope (default none); `null` leaves the key out. */
  capabilities?: Record<string, unknown> | null;
  /** Extra `_meta` keys (log level, overrides). */
  meta?: Record<string, unknown>;
  /** Header overrides; `null` removes a standard header. */
  headers?: Record<string, string | null>;
  user?: string;
}

interface Answer {
  status: number;
  /** Every response header but Date. */
  headers: Record<string, string>;
  type: string | null;
  /** The JSON body, or the SSE events' data in order. */
  body: unknown;
}

const MIRRORED: Record<string, string> = { 'tools/call': 'name', 'prompts/get': 'name', 'resources/read': 'uri' };

async function call(url: string, c: Call, signal?: AbortSignal): Promise<Answer> {
  const { _meta: ownMeta, ...params } = (c.params ?? {}) as { _meta?: Record<string, unknown> };
  const meta = {
    ...ownMeta,
    'io.modelcontextprotocol/protocolVersion': VERSION,
    ...(c.capabilities === null ? {} : { 'io.modelcontextprotocol/clientCapabilities': c.capabilities ?? {} }),
    'io.modelcontextprotocol/clientInfo': { name: 'diff-test', version: '1.0.0' },
    ...c.meta,
  };
  const field = MIRRORED[c.method];
  const name = field ? (params as Record<string, unknown>)[field] : undefined;
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': VERSION,
    'mcp-method': c.method,
    ...(typeof name === 'string' ? { 'mcp-name': name } : {}),
    ...(c.user ? { 'x-test-user': c.user } : {}),
  };
  for (const [k, v] of Object.entries(c.headers ?? {})) {
    if (v === null) delete headers[k];
    else headers[k] = v;
  }
  const res = await fetch(url, {
    method: 'POST',
    headers,
    body: JSON.stringify({ jsonrpc: '2.0', id: c.id ?? 1, method: c.method, params: { ...params, _meta: meta } }),
    ...(signal ? { signal } : {}),
  });
  const type = res.headers.get('content-type');
  const text = await res.text();
  const body = type?.startsWith('text/event-stream')
    ? text
        .split('\n')
        .filter((l) => l.startsWith('data:'))
        .map((l) => JSON.parse(l.slice(5)))
    : text
      ? JSON.parse(text)
      : undefined;
  const received = Object.fromEntries([...res.headers].filter(([name]) => name !== 'date'));
  return { status: res.status, headers: received, type, body };
}

/** Sealed state differs per mint (time, nonce): compared by presence only. */
function comparable(answer: Answer): Answer {
  return JSON.parse(JSON.stringify(answer), (key, value) =>
    key === 'requestState' && typeof value === 'string' ? '<sealed>' : value,
  );
}

let direct: Harness;
let entry: Harness;
beforeAll(async () => {
  [direct, entry] = await Promise.all([startLane(true), startLane(false)]);
});
afterAll(async () => {
  await Promise.all([direct.close(), entry.close()]);
});

const echo = { method: 'tools/call', params: { name: 'echo', arguments: { message: 'hi' } } };

/** Requests both paths must answer alike, and which path the direct lane must use for each. */
const CASES: Array<[string, Call, ServedBy]> = [
  ['tools/call echo', echo, 'direct'],
  ['a string id', { ...echo, id: 'req-7' }, 'direct'],
  ['tools/list', { method: 'tools/list' }, 'direct'],
  ['tools/list, second page', { method: 'tools/list', params: { cursor: 'not-a-cursor' } }, 'direct'],
  ['prompts/list', { method: 'prompts/list' }, 'direct'],
  ['prompts/get', { method: 'prompts/get', params: { name: 'test_simple_prompt' } }, 'direct'],
  ['prompts/get, unknown prompt', { method: 'prompts/get', params: { name: 'nope' } }, 'direct'],
  ['resources/list', { method: 'resources/list' }, 'direct'],
  ['resources/templates/list', { method: 'resources/templates/list' }, 'direct'],
  ['resources/read', { method: 'resources/read', params: { uri: 'test://static-text' } }, 'direct'],
  ['resources/read, unknown resource', { method: 'resources/read', params: { uri: 'test://nothing-here' } }, 'direct'],
  [
    'completion/complete',
    {
      method: 'completion/complete',
      params: {
        ref: { type: 'ref/prompt', name: 'test_prompt_with_arguments' },
        argument: { name: 'arg1', value: 'a' },
      },
    },
    'direct',
  ],
  ['server/discover', { method: 'server/discover' }, 'direct'],
  ['an unknown tool', { method: 'tools/call', params: { name: 'no_such_tool', arguments: {} } }, 'direct'],
  [
    'arguments that fail the tool schema',
    { method: 'tools/call', params: { name: 'add', arguments: { a: 'one' } } },
    'direct',
  ],
  ['a tool error', { method: 'tools/call', params: { name: 'test_error_handling', arguments: {} } }, 'direct'],
  [
    'input_required with requestState',
    {
      method: 'tools/call',
      params: { name: 'test_input_required_result_request_state', arguments: {} },
      capabilities: { elicitation: {} },
    },
    'direct',
  ],
  // Reads the request's declared capabilities, never the server's (a pooled server has none of its own).
  [
    'a tool checking the declared capabilities',
    { method: 'tools/call', params: { name: 'elicitUrl', arguments: {} }, capabilities: { elicitation: { url: {} } } },
    'direct',
  ],
  [
    'input_required the envelope does not cover: 400 -32021',
    { method: 'tools/call', params: { name: 'test_missing_capability', arguments: {} } },
    'direct',
  ],
  [
    'logging before the result: SSE',
    {
      method: 'tools/call',
      params: { name: 'test_logging_tool', arguments: {} },
      meta: { 'io.modelcontextprotocol/logLevel': 'debug' },
    },
    'direct',
  ],
  [
    'no log level: no log message',
    { method: 'tools/call', params: { name: 'test_logging_tool', arguments: {} } },
    'direct',
  ],
  [
    'progress before the result: SSE',
    {
      method: 'tools/call',
      params: { name: 'test_tool_with_progress', arguments: {}, _meta: { progressToken: 'p1' } },
    },
    'direct',
  ],
  // The entry's own rungs: answered by the entry in both lanes.
  ['missing MCP-Protocol-Version', { ...echo, headers: { 'mcp-protocol-version': null } }, 'entry'],
  ['missing Mcp-Method', { ...echo, headers: { 'mcp-method': null } }, 'entry'],
  ['missing Mcp-Name', { ...echo, headers: { 'mcp-name': null } }, 'entry'],
  ['Mcp-Name disagreeing', { ...echo, headers: { 'mcp-name': 'add' } }, 'entry'],
  [
    'Mcp-Name in Base64',
    { ...echo, headers: { 'mcp-name': `=?base64?${Buffer.from('echo').toString('base64')}?=` } },
    'entry',
  ],
  ['Mcp-Name in broken Base64', { ...echo, headers: { 'mcp-name': '=?base64?***?=' } }, 'entry'],
  ['not JSON: 415', { ...echo, headers: { 'content-type': 'text/plain' } }, 'entry'],
  [
    'a revision the server does not serve',
    {
      method: 'tools/list',
      meta: { 'io.modelcontextprotocol/protocolVersion': '2099-01-01' },
      headers: { 'mcp-protocol-version': '2099-01-01' },
    },
    'entry',
  ],
  [
    'Mcp-Param-* declared and sent',
    {
      method: 'tools/call',
      params: { name: 'test_x_mcp_header', arguments: { region: 'eu' } },
      headers: { 'mcp-param-region': 'eu' },
    },
    'entry',
  ],
  [
    'Mcp-Param-* declared, header missing',
    { method: 'tools/call', params: { name: 'test_x_mcp_header', arguments: { region: 'eu' } } },
    'entry',
  ],
  ['a method this revision removed', { method: 'ping' }, 'entry'],
  ['resources/subscribe (removed)', { method: 'resources/subscribe', params: { uri: 'test://static-text' } }, 'entry'],
  ['tasks/get without the extension', { method: 'tasks/get', params: { taskId: 'x' } }, 'entry'],
  // Refused at dispatch, after the direct path took it: handed to the entry.
  ['an envelope without client capabilities', { ...echo, capabilities: null }, 'entry'],
  ['a params shape the method schema refuses', { method: 'tools/call', params: { arguments: {} } }, 'entry'],
];

describe('the direct path answers exactly as the SDK entry', () => {
  test.each(CASES)('%s', async (name, c, expected) => {
    const before = direct.served.length;
    const [a, b] = await Promise.all([call(direct.url, c), call(entry.url, c)]);
    expect(comparable(a)).toEqual(comparable(b));
    expect(direct.served.slice(before)).toEqual([expected]);
    if (name.endsWith(': SSE')) expect(a.type).toBe('text/event-stream');
  });

  test('the lane without the direct path sent everything through the entry', () => {
    expect(new Set(entry.served)).toEqual(new Set(['entry']));
  });
});

describe('a refusal at dispatch', () => {
  test('is answered by the entry, as the entry answers it', async () => {
    // A server without prompts: prompts/list passes every entry rung, and the protocol layer
    // refuses it (-32601) while the message is being delivered.
    const noPrompts = () => {
      const server = new McpServer(
        { name: 'no-prompts', version: '1.0.0' },
        {
          capabilities: { tools: {} },
          supportedProtocolVersions: [...SUPPORTED_PROTOCOL_VERSIONS, ...MODERN_PROTOCOL_VERSIONS],
        },
      );
      server.server.setRequestHandler('tools/list', () => ({ tools: [] }));
      return server;
    };
    const [d, e] = await Promise.all([startLane(true, noPrompts), startLane(false, noPrompts)]);
    try {
      const [a, b] = await Promise.all([
        call(d.url, { method: 'prompts/list', id: 'p' }),
        call(e.url, { method: 'prompts/list', id: 'p' }),
      ]);
      expect(a).toEqual(b);
      expect(a).toMatchObject({ status: 404, body: { id: 'p', error: { code: -32601 } } });
      expect(d.served).toEqual(['entry']);
      // The refused server went back to the pool: the direct path's next request reuses it.
      const builds = d.builds();
      expect((await call(d.url, { method: 'tools/list' })).status).toBe(200);
      expect(d.served).toEqual(['entry', 'direct']);
      expect(d.builds()).toBe(builds);
    } finally {
      await Promise.all([d.close(), e.close()]);
    }
  });
});

describe('pooled servers', () => {
  test('successive requests reuse one server', async () => {
    const lane = await startLane(true);
    try {
      for (let id = 0; id < 5; id++) expect((await call(lane.url, { ...echo, id })).status).toBe(200);
      expect(lane.builds()).toBe(1);
    } finally {
      await lane.close();
    }
  });

  test('nothing carries over from one caller to the next: state sealed for one is refused to another', async () => {
    const lane = await startLane(true);
    try {
      const tool = {
        method: 'tools/call',
        params: { name: 'test_input_required_result_request_state', arguments: {} },
        capabilities: { elicitation: {} },
      };
      const first = await call(lane.url, { ...tool, user: 'alice' });
      const state = (first.body as { result: { requestState: string } }).result.requestState;
      const inputResponses = { confirm: { action: 'accept', content: { ok: true } } };
      const retry = (user: string) =>
        call(lane.url, { ...tool, user, params: { ...tool.params, inputResponses, requestState: state } });
      const stolen = await retry('bob');
      expect(stolen.body).toMatchObject({ error: { code: -32602, message: 'Invalid or expired requestState' } });
      const own = await retry('alice');
      expect(own.body).toMatchObject({
        result: { resultType: 'complete', content: [{ text: expect.stringMatching(/^state-ok/) }] },
      });
      expect(lane.builds()).toBe(1);
    } finally {
      await lane.close();
    }
  });
});

describe('closing the response cancels the call (2026-07-28)', () => {
  test('the handler sees its signal abort, and its server is not reused', async () => {
    const calls = new EventEmitter();
    const build = () => {
      const server = new McpServer(
        { name: 'waits', version: '1.0.0' },
        {
          capabilities: { tools: {} },
          supportedProtocolVersions: [...SUPPORTED_PROTOCOL_VERSIONS, ...MODERN_PROTOCOL_VERSIONS],
        },
      );
      server.server.setRequestHandler('tools/call', (_req, ctx) => {
        calls.emit('started', server);
        return new Promise((_resolve, reject) =>
          ctx.mcpReq.signal.addEventListener('abort', () => {
            calls.emit('aborted', server);
            reject(new Error('aborted'));
          }),
        );
      });
      return server;
    };
    const lane = await startLane(true, build);
    try {
      const wait = { method: 'tools/call', params: { name: 'wait', arguments: {} } };
      const client = new AbortController();
      const started = once(calls, 'started');
      const pending = call(lane.url, wait, client.signal).catch((err: Error) => err.name);
      const [first] = (await started) as [McpServer];
      const aborted = once(calls, 'aborted');
      client.abort();
      expect(await aborted).toEqual([first]);
      expect(await pending).toBe('AbortError');
      expect(lane.served).toEqual(['direct']);
      // The next call runs on another server: the cancelled one may still be unwinding its handler.
      const nextStarted = once(calls, 'started');
      const next = new AbortController();
      const second = call(lane.url, wait, next.signal).catch(() => undefined);
      const [other] = (await nextStarted) as [McpServer];
      expect(other).not.toBe(first);
      next.abort();
      await second;
    } finally {
      await lane.close();
    }
  });
});
