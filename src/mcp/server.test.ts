/**
 * The one factory serves both protocol eras. The 2025 session side is covered by the feature
 * suites (testing/connectClient.ts); here the same factory, without a session, answers 2026-07-28
 * requests through the SDK's per-request entry, as the modern lane will.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import {
  Client,
  ProtocolError,
  StreamableHTTPClientTransport,
  type CallToolResult,
} from '@modelcontextprotocol/client';
import { createMcpHandler, InMemoryServerEventBus, type McpHttpHandler } from '@modelcontextprotocol/server';
import { createRequestStateSeal, InProcessStateKeys } from './requestState.js';
import { createMcpServer } from './server.js';
import { captureLogs } from './testing/connectClient.js';

let handler: McpHttpHandler | undefined;
let client: Client | undefined;
/** Response bodies of resources/read, as sent (the SDK client rebuilds errors with its own codes). */
let readBodies: Promise<string>[] = [];
afterEach(async () => {
  await client?.close();
  await handler?.close();
  client = handler = undefined;
  readBodies = [];
});

async function connectModern(): Promise<Client> {
  const { log } = captureLogs();
  const events = new InMemoryServerEventBus();
  const requestState = createRequestStateSeal(new InProcessStateKeys(), 600);
  handler = createMcpHandler(() => createMcpServer({ userId: 'test-user', log, events, requestState }), {
    legacy: 'reject',
    bus: events,
  });
  const h = handler;
  client = new Client(
    { name: 'test-client', version: '1.0.0' },
    { capabilities: { sampling: {} }, versionNegotiation: { mode: { pin: '2026-07-28' } } },
  );
  client.setRequestHandler('sampling/createMessage', async () => ({
    role: 'assistant',
    content: { type: 'text', text: 'forty-two' },
    model: 'fake-model',
    stopReason: 'endTurn',
  }));
  // The URL is never dialled: the handler serves each request in process.
  const fetch = async (url: string | URL, init?: RequestInit) => {
    const res = await h.fetch(new Request(url, init));
    if (typeof init?.body === 'string' && init.body.includes('"resources/read"')) readBodies.push(res.clone().text());
    return res;
  };
  await client.connect(new StreamableHTTPClientTransport(new URL('http://test.local/mcp'), { fetch }));
  return client;
}

const text = (r: CallToolResult) => r.content.map((c) => (c.type === 'text' ? c.text : '')).join('');

describe('createMcpServer without a session (one 2026-07-28 request)', () => {
  it('serves the same tools, and a tool needing the client completes in multiple round trips', async () => {
    const c = await connectModern();
    expect(c.getProtocolEra()).toBe('modern');
    expect((await c.listTools()).tools.map((t) => t.name)).toContain('sampleLLM');
    expect(text(await c.callTool({ name: 'echo', arguments: { message: 'hi' } }))).toBe('Echo: hi');
    const sampled = await c.callTool({ name: 'sampleLLM', arguments: { prompt: 'meaning of life?' } });
    expect(text(sampled)).toBe('LLM sampling result (fake-model): forty-two');
  });

  it('answers an unknown resource with -32602 (SEP-2164), not the 2025 lane’s -32002', async () => {
    const c = await connectModern();
    const err = await c.readResource({ uri: 'test://nope' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProtocolError);
    expect(await Promise.all(readBodies)).toEqual([expect.stringContaining('"code":-32602')]);
  });
});
