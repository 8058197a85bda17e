/**
 * Separate mode end to end behind a "corporate SSO" nobody here wrote (oidc-provider, configured
 * with resource indicators, JWT access tokens and introspection): the MCP SDK client discovers the
 * SSO from our 401 and Protected Resource Metadata, runs authorization code + PKCE against it
 * headlessly, and uses the token on two MCP instances sharing Redis, for both validation
 * strategies. The token never appears in any Redis message. AS down → 503, AS back → recovers.
 */
import { SignJWT, generateKeyPair } from 'jose';
import {
  JWT_CLIENT_ID,
  OPAQUE_CLIENT_ID,
  RS_CLIENT,
  startCorporateSso,
  type CorporateSso,
} from '../auth/separate/fixtures/corporateSso.js';
import { HeadlessProvider, connectWithOAuth } from './headlessOAuth.js';
import { MCP_URL, startSeparateCluster, type SeparateCluster } from './separateHarness.js';

let sso: CorporateSso;
beforeAll(async () => {
  sso = await startCorporateSso();
});
afterAll(async () => {
  await sso.close();
});

const mcpPost = (cluster: SeparateCluster, token: string) =>
  cluster.fetchVia(MCP_URL, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
    }),
  });

describe.each([
  ['jwt', JWT_CLIENT_ID, {}],
  [
    'introspection',
    OPAQUE_CLIENT_ID,
    {
      TOKEN_VALIDATION: 'introspection',
      INTROSPECTION_CLIENT_ID: RS_CLIENT.id,
      INTROSPECTION_CLIENT_SECRET: RS_CLIENT.secret,
    },
  ],
] as const)('corporate SSO, %s validation, two MCP instances', (strategy, clientId, env) => {
  let cluster: SeparateCluster;
  beforeAll(async () => {
    cluster = await startSeparateCluster({
      AUTH_SERVER_URL: sso.issuer,
      REQUIRED_SCOPES: 'mcp:tools',
      AUTH_SERVER_RETRY_AFTER_SECONDS: '0',
      JWKS_COOLDOWN_SECONDS: '0',
      ...env,
    });
  });
  afterAll(async () => {
    await cluster.close();
  });

  test('the SDK client discovers the SSO, authorizes with PKCE, and works across both instances', async () => {
    const provider = new HeadlessProvider({
      clientId,
      issuer: sso.issuer,
      redirectUrl: sso.redirectUri,
      browser: (url) => sso.authorize(url, 'alice'),
    });
    const { client } = await connectWithOAuth(provider, MCP_URL, cluster.fetchVia);
    // Several calls: the balancer alternates, so both instances serve this session.
    for (const message of ['one', 'two', 'three', 'four']) {
      const res = await client.callTool({ name: 'echo', arguments: { message } });
      expect(JSON.stringify(res.content)).toContain(message);
    }
    const token = provider.tokens()!.access_token;
    if (strategy === 'jwt') expect(token.split('.')).toHaveLength(3);
    else expect(token).not.toContain('.'); // opaque reference token
    // Token passthrough never happens: the bearer token is in no Redis message.
    expect(cluster.published.length).toBeGreaterThan(0);
    expect(cluster.published.filter((m) => m.includes(token))).toEqual([]);
    await client.close();
  });

  test('a token for another resource is refused on both instances with a challenge naming our PRM', async () => {
    const token = await sso.getAccessToken({ resource: 'http://127.0.0.1:9/elsewhere', userId: 'alice', clientId });
    for (let i = 0; i < 2; i++) {
      const res = await mcpPost(cluster, token);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toContain(
        'resource_metadata="http://localhost:3232/.well-known/oauth-protected-resource/mcp"',
      );
    }
  });

  test('AS down → 503 with Retry-After on both instances; AS back → answers recover by themselves', async () => {
    // A token the instances have not seen yet (introspection) or a key they must look up (jwt).
    const token =
      strategy === 'jwt'
        ? await new SignJWT({ sub: 'alice', scope: 'mcp:tools' })
            .setProtectedHeader({ alg: 'ES256', kid: 'rotated-in-during-outage' })
            .setIssuer(sso.issuer)
            .setAudience(MCP_URL)
            .setExpirationTime('5m')
            .sign((await generateKeyPair('ES256')).privateKey)
        : await sso.getAccessToken({ resource: MCP_URL, userId: 'alice', clientId });
    await sso.stop();
    try {
      for (let i = 0; i < 2; i++) {
        const res = await mcpPost(cluster, token);
        expect(res.status).toBe(503);
        expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
        expect(await res.json()).toMatchObject({ error: 'temporarily_unavailable' });
      }
    } finally {
      await sso.start();
    }
    // Recovered by itself: the AS answers again (the forged key is unknown → 401; the real token → 200).
    const res = await mcpPost(cluster, token);
    expect(res.status).toBe(strategy === 'jwt' ? 401 : 200);
    await res.body?.cancel();
  });
});
