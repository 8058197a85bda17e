/**
 * The whole integrated-mode OAuth flow from the command line, against a running server, with no
 * browser: discovery (401 challenge → PRM → AS metadata), dynamic client registration, PKCE,
 * /authorize, login and consent by form posts, token exchange, then one MCP `initialize` with the
 * token to prove it works. Prints the access token on stdout (progress goes to stderr), so:
 *
 *   npx tsx scratch/oauth-flow.ts                                  # http://localhost:3232/mcp as alice
 *   npx tsx scratch/oauth-flow.ts --url http://localhost:3232/mcp --user bob --scope mcp
 *   TOKEN=$(npx tsx scratch/oauth-flow.ts) && npx @modelcontextprotocol/inspector --cli \
 *     http://localhost:3232/mcp --transport http --header "Authorization: Bearer $TOKEN" --method tools/list
 *
 * `--json` prints the whole token response (access, refresh, expiry) instead of just the token.
 */
import { parseArgs } from 'node:util';
import pkceChallenge from 'pkce-challenge';
import { z } from 'zod';
import { authorizeByForms } from '../src/auth/testing/formLogin.js';

const { values: args } = parseArgs({
  options: {
    url: { type: 'string', default: 'http://localhost:3232/mcp' },
    user: { type: 'string', default: 'alice' },
    scope: { type: 'string' },
    redirect: { type: 'string', default: 'http://127.0.0.1:6276/oauth/callback' },
    json: { type: 'boolean', default: false },
  },
});

const say = (msg: string) => process.stderr.write(`${msg}\n`);

async function json<T>(res: Response, schema: z.ZodType<T>, what: string): Promise<T> {
  const body: unknown = await res.json().catch(() => undefined);
  if (!res.ok) throw new Error(`${what}: HTTP ${res.status} ${JSON.stringify(body)}`);
  return schema.parse(body);
}

async function main() {
  const mcpUrl = new URL(args.url);

  // 1. An unauthenticated request: the 401 names the Protected Resource Metadata (RFC 9728 §5.1).
  const probe = await fetch(mcpUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  const challenge = probe.headers.get('www-authenticate') ?? '';
  const prmUrl = /resource_metadata="([^"]+)"/.exec(challenge)?.[1];
  if (probe.status !== 401 || !prmUrl)
    throw new Error(`expected a 401 with resource_metadata, got ${probe.status} ${challenge}`);
  say(`401 challenge → ${prmUrl}`);
  const prm = await json(
    await fetch(prmUrl),
    z.object({
      resource: z.string(),
      authorization_servers: z.array(z.string()).min(1),
      scopes_supported: z.array(z.string()).optional(),
    }),
    'protected resource metadata',
  );
  const issuer = prm.authorization_servers[0]!;
  say(`resource ${prm.resource}, authorization server ${issuer}`);

  // 2. AS metadata (RFC 8414).
  const as = await json(
    await fetch(new URL('/.well-known/oauth-authorization-server', issuer)),
    z.object({
      issuer: z.string(),
      authorization_endpoint: z.string(),
      token_endpoint: z.string(),
      registration_endpoint: z.string(),
      code_challenge_methods_supported: z.array(z.string()),
    }),
    'authorization server metadata',
  );
  if (!as.code_challenge_methods_supported.includes('S256')) throw new Error('AS does not support PKCE S256');

  // 3. Dynamic client registration (RFC 7591) as a public client.
  const client = await json(
    await fetch(as.registration_endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        client_name: 'scratch/oauth-flow.ts',
        redirect_uris: [args.redirect],
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
      }),
    }),
    z.object({ client_id: z.string() }),
    'registration',
  );
  say(`registered client ${client.client_id}`);

  // 4. /authorize with PKCE, then the login and consent forms.
  const pkce = await pkceChallenge();
  const state = crypto.randomUUID();
  const authorize = new URL(as.authorization_endpoint);
  authorize.search = new URLSearchParams({
    response_type: 'code',
    client_id: client.client_id,
    redirect_uri: args.redirect,
    code_challenge: pkce.code_challenge,
    code_challenge_method: 'S256',
    state,
    resource: prm.resource,
    ...(args.scope ? { scope: args.scope } : prm.scopes_supported ? { scope: prm.scopes_supported.join(' ') } : {}),
  }).toString();
  const callback = await authorizeByForms(authorize, { userId: args.user });
  if (callback.searchParams.get('error')) {
    throw new Error(
      `authorization failed: ${callback.searchParams.get('error')} ${callback.searchParams.get('error_description')}`,
    );
  }
  // What a client must check before using the code: its own state, and the issuer (RFC 9207).
  if (callback.searchParams.get('state') !== state) throw new Error('state mismatch');
  if (callback.searchParams.get('iss') !== as.issuer)
    throw new Error(`iss mismatch: ${callback.searchParams.get('iss')}`);
  say(`consent given as ${args.user}; code received`);

  // 5. Token exchange.
  const tokens = await json(
    await fetch(as.token_endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        client_id: client.client_id,
        code: callback.searchParams.get('code')!,
        code_verifier: pkce.code_verifier,
        redirect_uri: args.redirect,
        resource: prm.resource,
      }),
    }),
    z.object({
      access_token: z.string(),
      refresh_token: z.string(),
      expires_in: z.number(),
      scope: z.string(),
      token_type: z.string(),
    }),
    'token exchange',
  );
  say(`access token for scope "${tokens.scope}", expires in ${tokens.expires_in} s`);

  // 6. Prove it: MCP initialize with the token.
  const init = await fetch(mcpUrl, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${tokens.access_token}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'oauth-flow', version: '1.0.0' } },
    }),
  });
  say(`MCP initialize → HTTP ${init.status}, session ${init.headers.get('mcp-session-id') ?? '(none)'}`);
  await init.body?.cancel();
  if (!init.ok) throw new Error('the token was refused by /mcp');

  process.stdout.write(args.json ? `${JSON.stringify(tokens, null, 2)}\n` : `${tokens.access_token}\n`);
}

main().catch((err: unknown) => {
  say(`oauth-flow: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
