/**
 * Our own deployment of separate mode: auth-server/ (the shared authorization-server factory,
 * standalone, its own Redis namespace) + two MCP instances as resource servers, with the MCP SDK
 * client doing dynamic registration, login and consent (form posts), and MCP calls — for both
 * validation strategies.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { loadAuthServerConfig } from '../../auth-server/config.js';
import { startAuthServer, type RunningAuthServer } from '../../auth-server/server.js';
import { authorizeByForms } from '../auth/testing/formLogin.js';
import { createLogger } from '../observability/logger.js';
import { HeadlessProvider, connectWithOAuth } from './headlessOAuth.js';
import { REDIS_URL } from './cluster.js';
import { MCP_URL, startSeparateCluster, type SeparateCluster } from './separateHarness.js';

const RS = { id: 'mcp-resource-server', secret: `rs-${randomBytes(12).toString('hex')}` };
const asPrefix = `t${randomBytes(5).toString('hex')}-auth`;
let authServer: RunningAuthServer;
let issuer: string;

async function freePort(): Promise<number> {
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((r) => probe.close(() => r()));
  return port;
}

beforeAll(async () => {
  const port = await freePort();
  issuer = `http://127.0.0.1:${port}`;
  const cfg = loadAuthServerConfig({
    AUTH_SERVER_PORT: String(port),
    AUTH_SERVER_HOST: '127.0.0.1',
    AUTH_SERVER_URL: issuer,
    AUTH_SERVER_RESOURCES: MCP_URL,
    AUTH_SERVER_REDIS_PREFIX: asPrefix,
    REDIS_URL,
    OAUTH_SCOPES: 'mcp',
    OAUTH_RATE_LIMIT_RELAXED: 'true',
    OAUTH_INTROSPECTION_CLIENTS: `${RS.id}:${RS.secret}`,
    SHUTDOWN_GRACE_MS: '1000',
    LOG_LEVEL: process.env['TEST_LOG_LEVEL'] ?? 'silent',
  });
  authServer = await startAuthServer(cfg, createLogger(cfg.shared.LOG_LEVEL));
});

afterAll(async () => {
  await authServer?.close();
  const inspect = new Redis(REDIS_URL);
  const left = await inspect.keys(`${asPrefix}:*`);
  if (left.length) await inspect.del(...left);
  inspect.disconnect();
});

test('the auth server publishes RFC 8414 metadata with its own issuer, JWKS and introspection', async () => {
  const meta = (await (await fetch(`${issuer}/.well-known/oauth-authorization-server`)).json()) as Record<
    string,
    unknown
  >;
  expect(meta).toMatchObject({
    issuer,
    jwks_uri: expect.stringMatching(new RegExp(`^${issuer}/`)),
    introspection_endpoint: `${issuer}/introspect`,
    code_challenge_methods_supported: ['S256'],
  });
});

describe.each([
  ['jwt', {}],
  [
    'introspection',
    { TOKEN_VALIDATION: 'introspection', INTROSPECTION_CLIENT_ID: RS.id, INTROSPECTION_CLIENT_SECRET: RS.secret },
  ],
] as const)('auth-server + two MCP instances, %s validation', (_strategy, env) => {
  let cluster: SeparateCluster;
  beforeAll(async () => {
    cluster = await startSeparateCluster({ AUTH_SERVER_URL: issuer, REQUIRED_SCOPES: 'mcp', ...env });
  });
  afterAll(async () => {
    await cluster.close();
  });

  test('SDK client: PRM → our auth server → registration, login, consent → MCP calls on both instances', async () => {
    const prm = (await (
      await cluster.fetchVia('http://localhost:3232/.well-known/oauth-protected-resource/mcp')
    ).json()) as Record<string, unknown>;
    expect(prm).toMatchObject({ resource: MCP_URL, authorization_servers: [issuer] });

    const provider = new HeadlessProvider({
      redirectUrl: 'http://127.0.0.1:6276/oauth/callback',
      browser: (url) => authorizeByForms(url, { userId: 'alice' }),
    });
    const { client } = await connectWithOAuth(provider, MCP_URL, cluster.fetchVia);
    expect(provider.clientInformation()?.client_id).toBeTruthy(); // dynamically registered
    for (const message of ['a', 'b', 'c', 'd']) {
      const res = await client.callTool({ name: 'echo', arguments: { message } });
      expect(JSON.stringify(res.content)).toContain(message);
    }
    const token = provider.tokens()!.access_token;
    expect(cluster.published.filter((m) => m.includes(token))).toEqual([]);
    await client.close();

    // Two namespaces in one Redis: the AS's state under its prefix, none of it under the MCP servers'.
    const inspect = new Redis(REDIS_URL);
    try {
      expect((await inspect.keys(`${asPrefix}:*`)).length).toBeGreaterThan(0);
      expect(await inspect.keys(`${cluster.prefix}:oauth:*`)).toEqual([]);
    } finally {
      inspect.disconnect();
    }
  });

  test('the 2026-07-28 lane: a pinned SDK client signs in through the same flow and calls tools on both instances', async () => {
    const provider = new HeadlessProvider({
      redirectUrl: 'http://127.0.0.1:6276/oauth/callback',
      browser: (url) => authorizeByForms(url, { userId: 'alice' }),
    });
    const { client } = await connectWithOAuth(provider, MCP_URL, cluster.fetchVia, {
      versionNegotiation: { mode: { pin: '2026-07-28' } },
    });
    expect(client.getProtocolEra()).toBe('modern');
    for (const message of ['a', 'b', 'c', 'd']) {
      const res = await client.callTool({ name: 'echo', arguments: { message } });
      expect(JSON.stringify(res.content)).toContain(message);
    }
    // The token never travels between instances, on this lane either.
    expect(cluster.published.filter((m) => m.includes(provider.tokens()!.access_token))).toEqual([]);
    await client.close();
  });
});
