/**
 * Integrated mode end to end with the SDK's own client and an OAuthClientProvider, headless:
 * discovery → dynamic registration → /authorize → login + consent by form posts → token → MCP
 * calls. Two full server instances (startServer, AUTH_MODE=integrated) share a real Redis; every
 * OAuth request goes to instance A and every MCP request to instance B. Then refresh through the
 * SDK, another user's session id (404), and revocation (401).
 */
import { randomBytes } from 'node:crypto';
import { auth, type ClientOptions } from '@modelcontextprotocol/client';
import { authorizeByForms } from '../auth/testing/formLogin.js';
import { removeKeysWithPrefix } from '../redis/removePrefix.js';
import type { RunningServer } from '../server.js';
import { adminRedisEnv, integratedEnv, redisEnv, redisSettingsFor, startTestInstance } from './cluster.js';
import { balancedFetch, legacyPostHeaders } from './mcpClient.js';
import { connectWithOAuth, HeadlessProvider } from './headlessOAuth.js';
import { modernPost, TASKS } from './modernRequest.js';

/** What clients see: the balancer's URL. Requests are rewritten onto the instances below. */
const BASE = 'http://localhost:3232';
const MCP_URL = `${BASE}/mcp`;
const REDIRECT = 'http://127.0.0.1:6276/oauth/callback';

const prefix = `t${randomBytes(5).toString('hex')}`;
let a: RunningServer; // OAuth
let b: RunningServer; // MCP
let fetchVia: typeof fetch;

beforeAll(async () => {
  const start = () =>
    startTestInstance({
      // The Redis topology of the jest project (src/test/cluster.ts).
      ...redisEnv(),
      REDIS_PREFIX: prefix,
      ...integratedEnv(BASE),
    });
  a = await start();
  b = await start();
  // The "balancer": OAuth and discovery on A, MCP on B.
  const toA = balancedFetch(() => a.url);
  const toB = balancedFetch(() => b.url);
  fetchVia = (input, init) => {
    const u = new URL(input instanceof Request ? input.url : String(input));
    return u.pathname.startsWith('/mcp') ? toB(input, init) : toA(input, init);
  };
});

afterAll(async () => {
  await Promise.allSettled([a?.stop(), b?.stop()]);
  await removeKeysWithPrefix(redisSettingsFor(adminRedisEnv()), prefix);
});

/** A client whose "browser" posts our login and consent forms as `userId`. */
const providerFor = (userId: string) =>
  new HeadlessProvider({
    redirectUrl: REDIRECT,
    clientName: 'SDK e2e client',
    browser: (url) => authorizeByForms(url, { userId, fetch: fetchVia }),
  });

async function connect(provider: HeadlessProvider, options: ClientOptions = {}) {
  const conn = await connectWithOAuth(provider, MCP_URL, fetchVia, options);
  // RFC 9207: the authorization response names its issuer.
  expect(provider.callback?.searchParams.get('iss')).toBe(BASE);
  return conn;
}

const rawMcp = (token: string, body: unknown, sessionId?: string) =>
  fetchVia(MCP_URL, {
    method: 'POST',
    headers: legacyPostHeaders(token, sessionId),
    body: JSON.stringify(body),
  });

test('SDK client: discovery, registration, consent, token, MCP; refresh; foreign session 404; revoke → 401', async () => {
  const alice = providerFor('alice');
  const { client, transport } = await connect(alice);
  expect(alice.clientInformation()).toMatchObject({ client_name: 'SDK e2e client' });
  const echo = await client.callTool({ name: 'echo', arguments: { message: 'hi' } });
  expect(JSON.stringify(echo.content)).toContain('hi');
  const sessionId = transport.sessionId!;
  expect(sessionId).toBeTruthy();

  // Refresh through the SDK: a new access and refresh token, and MCP keeps working with them.
  const before = alice.tokens()!;
  expect(await auth(alice, { serverUrl: MCP_URL, fetchFn: fetchVia })).toBe('AUTHORIZED');
  const after = alice.tokens()!;
  expect(after.access_token).not.toBe(before.access_token);
  expect(after.refresh_token).not.toBe(before.refresh_token);
  await client.callTool({ name: 'echo', arguments: { message: 'after refresh' } });

  // Bob, with a valid token of his own, cannot use Alice's session.
  const bob = providerFor('bob');
  const bobConn = await connect(bob);
  const hijack = await rawMcp(bob.tokens()!.access_token, { jsonrpc: '2.0', id: 99, method: 'tools/list' }, sessionId);
  expect(hijack.status).toBe(404);

  // Revoke Alice's access token (RFC 7009): the next request is 401 with a resource_metadata challenge.
  const revoked = await fetchVia(`${BASE}/revoke`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: String(alice.clientInformation()!.client_id), token: after.access_token }),
  });
  expect(revoked.status).toBe(200);
  const denied = await rawMcp(after.access_token, { jsonrpc: '2.0', id: 100, method: 'tools/list' }, sessionId);
  expect(denied.status).toBe(401);
  expect(denied.headers.get('www-authenticate')).toContain(
    `resource_metadata="${BASE}/.well-known/oauth-protected-resource/mcp"`,
  );
  expect(((await denied.json()) as { error_description: string }).error_description).toBe('token has been revoked');
  // The grant is gone, so the refresh token died with it: the SDK drops the tokens and starts over.
  await expect(auth(alice, { serverUrl: MCP_URL, fetchFn: fetchVia })).resolves.toBe('REDIRECT');
  expect(alice.tokens()).toBeUndefined();

  await Promise.all([client.close(), bobConn.client.close()]);
});

test('a session belongs to the user AND the client: another client of the same user neither sees nor drives it', async () => {
  const first = providerFor('grace');
  const { client, transport } = await connect(first);
  const sessionId = transport.sessionId!;
  const second = providerFor('grace');
  const other = await connect(second);
  expect(second.clientInformation()!.client_id).not.toBe(first.clientInformation()!.client_id);

  const driven = await rawMcp(
    second.tokens()!.access_token,
    { jsonrpc: '2.0', id: 7, method: 'tools/list' },
    sessionId,
  );
  expect(driven.status).toBe(404);
  const list = async (token: string) =>
    (
      (await (await fetchVia(`${BASE}/sessions`, { headers: { authorization: `Bearer ${token}` } })).json()) as {
        sessions: Array<{ id: string }>;
      }
    ).sessions.map((s) => s.id);
  expect(await list(second.tokens()!.access_token)).toEqual([other.transport.sessionId]);
  expect(await list(first.tokens()!.access_token)).toEqual([sessionId]);
  // The owning client still drives its session.
  await client.callTool({ name: 'echo', arguments: { message: 'still mine' } });
  await Promise.all([client.close(), other.client.close()]);
});

test.each([
  ['pinned to 2026-07-28', { pin: '2026-07-28' }],
  ['auto', 'auto'],
] as const)(
  'the 2026-07-28 lane with OAuth (%s): the probe’s 401 starts the flow; the token’s user owns what it creates; revoked → 401',
  async (_mode, mode) => {
    const carol = providerFor('carol');
    const { client } = await connect(carol, { versionNegotiation: { mode } });
    expect(client.getProtocolEra()).toBe('modern');
    const echo = await client.callTool({ name: 'echo', arguments: { message: 'modern with a token' } });
    expect(JSON.stringify(echo.content)).toContain('modern with a token');
    const token = carol.tokens()!.access_token;

    // A task created with Carol's token (on B) is not Dave's, though his token is valid too.
    const viaB = (method: string, params: Record<string, unknown>, bearer: string) =>
      modernPost(b.url, method, params, { token: bearer, capabilities: { extensions: { [TASKS]: {} } } });
    const created = await viaB('tools/call', { name: 'slow_compute', arguments: { seconds: 30 } }, token);
    const taskId = created.body.result!['taskId'] as string;
    const dave = providerFor('dave');
    const daveConn = await connect(dave, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
    expect((await viaB('tasks/get', { taskId }, dave.tokens()!.access_token)).body.error).toMatchObject({
      code: -32602,
    });
    expect((await viaB('tasks/cancel', { taskId }, token)).body.result).toMatchObject({ resultType: 'complete' });

    const revoked = await fetchVia(`${BASE}/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: String(carol.clientInformation()!.client_id), token }),
    });
    expect(revoked.status).toBe(200);
    const denied = await modernPost(b.url, 'tools/list', {}, { token });
    expect(denied.status).toBe(401);
    expect(denied.headers.get('www-authenticate')).toContain(
      `resource_metadata="${BASE}/.well-known/oauth-protected-resource/mcp"`,
    );
    await Promise.all([client.close(), daveConn.client.close()]);
  },
);
