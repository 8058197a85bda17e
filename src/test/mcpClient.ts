/**
 * SDK clients for tests, connected through a fake load balancer: a fetch that decides, per HTTP
 * request, which instance receives it.
 */
import { Client, StreamableHTTPClientTransport, type ClientCapabilities } from '@modelcontextprotocol/client';

export type Picker = (info: { method: string; body: string }) => string;

/** A fetch that sends each request to the instance base URL chosen by `pick`. */
export function balancedFetch(pick: Picker): typeof fetch {
  return (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const body = typeof init?.body === 'string' ? init.body : '';
    const target = new URL(pick({ method: init?.method ?? 'GET', body }));
    url.protocol = target.protocol;
    url.host = target.host;
    return fetch(url, init);
  };
}

/** initialize goes to `first`, everything after it to `rest` (round-robin over the list). */
export function initOnThenRoundRobin(first: string, rest: string[]): Picker {
  let i = 0;
  return ({ body }) => (body.includes('"method":"initialize"') ? first : rest[i++ % rest.length]!);
}

export async function connectClient(
  baseUrl: string,
  token: string,
  pick?: Picker,
  capabilities: ClientCapabilities = {},
): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const client = new Client({ name: 'test-client', version: '1.0.0' }, { capabilities });
  const transport = new StreamableHTTPClientTransport(new URL(`${baseUrl}/mcp`), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
    fetch: pick ? balancedFetch(pick) : undefined,
  });
  await client.connect(transport);
  return { client, transport };
}

/** Headers of a raw 2025-11-25 POST /mcp with a bearer token (tests that look at the HTTP answer itself). */
export function legacyPostHeaders(token: string, sessionId?: string): Record<string, string> {
  return {
    authorization: `Bearer ${token}`,
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': '2025-11-25',
    ...(sessionId ? { 'mcp-session-id': sessionId } : {}),
  };
}
