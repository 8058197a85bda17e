/**
 * LOGIN_PROVIDER=oidc end to end: oidc-provider plays the upstream OpenID provider on loopback,
 * two MCP instances (integrated mode) share a real Redis, and the SDK client runs the whole flow
 * headless. The sign-in starts on instance A (our /authorize and /oauth/login), passes through the
 * provider's login and consent, and comes back to our /oauth/callback on instance B; consent,
 * token and the MCP call follow. Then the refusals: unknown state, a replayed callback, a callback
 * in another browser, a wrong nonce, a disallowed or unverified email, a cancelled sign-in, and
 * the provider down or hanging: each ends on our error page with the right status, never a 500
 * or a hang.
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { decodeJwt } from 'jose';
import { Redis } from 'ioredis';
import pkceChallenge from 'pkce-challenge';
import { authorizeByForms } from '../auth/testing/formLogin.js';
import { UPSTREAM_CLIENT_ID, startUpstreamIdp, type UpstreamIdp } from '../auth/testing/upstreamIdp.js';
import { loadConfig } from '../config.js';
import { createLogger } from '../observability/logger.js';
import { redisSettingsFor } from './cluster.js';
import { removeKeysWithPrefix } from '../redis/removePrefix.js';
import { startServer, type RunningServer } from '../server.js';
import { connectWithOAuth, HeadlessProvider } from './headlessOAuth.js';

const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const BASE = 'http://localhost:3232';
const MCP_URL = `${BASE}/mcp`;
const REDIRECT = 'http://127.0.0.1:6276/oauth/callback';
const prefix = `t${randomBytes(5).toString('hex')}`;

let idp: UpstreamIdp;
let a: RunningServer;
let b: RunningServer;
const extra: RunningServer[] = [];
const redis = new Redis(REDIS_URL);
/** Which instance answered each of our paths, in order. */
const seen: Array<{ path: string; instance: 'A' | 'B' }> = [];

function env(over: Record<string, string> = {}) {
  return loadConfig({
    REDIS_URL,
    REDIS_PREFIX: prefix,
    PORT: '0',
    HOST: '127.0.0.1',
    BASE_URI: BASE,
    AUTH_MODE: 'integrated',
    LOGIN_PROVIDER: 'oidc',
    LOGIN_OIDC_ISSUER: idp.issuer,
    LOGIN_OIDC_CLIENT_ID: UPSTREAM_CLIENT_ID,
    LOGIN_OIDC_ALLOWED_DOMAINS: 'example.com',
    LOGIN_OIDC_TIMEOUT_MS: '2000',
    OAUTH_RATE_LIMIT_RELAXED: 'true',
    RATE_LIMIT_ENABLED: 'false',
    SHUTDOWN_GRACE_MS: '500',
    LOG_LEVEL: process.env['TEST_LOG_LEVEL'] ?? 'silent',
    ...over,
  });
}

/** The "balancer": the upstream callback (and MCP) go to B, every other request of ours to A. */
const fetchVia: typeof fetch = (input, init) => {
  const url = new URL(input instanceof Request ? input.url : String(input));
  if (url.origin !== BASE) return fetch(input, init);
  const instance = url.pathname.startsWith('/oauth/callback') || url.pathname.startsWith('/mcp') ? 'B' : 'A';
  seen.push({ path: url.pathname, instance });
  const target = new URL(instance === 'B' ? b.url : a.url);
  url.protocol = target.protocol;
  url.host = target.host;
  return fetch(url, init);
};

beforeAll(async () => {
  idp = await startUpstreamIdp({ redirectUri: `${BASE}/oauth/callback` });
  a = await startServer(env(), createLogger(env().LOG_LEVEL));
  b = await startServer(env(), createLogger(env().LOG_LEVEL));
});

afterAll(async () => {
  await Promise.allSettled([a?.stop(), b?.stop(), ...extra.map((s) => s.stop())]);
  await idp?.close();
  await removeKeysWithPrefix(redisSettingsFor({ REDIS_URL }), prefix);
  redis.disconnect();
});

beforeEach(() => {
  idp.signInAs = 'u-alice';
});

test('SDK client: authorize on A → upstream sign-in and consent → our callback on B → consent → token → MCP call', async () => {
  const provider = new HeadlessProvider({
    redirectUrl: REDIRECT,
    clientName: 'OIDC e2e client',
    browser: (url) => authorizeByForms(url, { fetch: fetchVia }),
  });
  seen.length = 0;
  const { client } = await connectWithOAuth(provider, MCP_URL, fetchVia);
  expect(seen.find((s) => s.path === '/authorize')?.instance).toBe('A');
  expect(seen.find((s) => s.path === '/oauth/login')?.instance).toBe('A');
  expect(seen.find((s) => s.path === '/oauth/callback')?.instance).toBe('B');
  expect(provider.callback?.searchParams.get('iss')).toBe(BASE);

  const echo = await client.callTool({ name: 'echo', arguments: { message: 'signed in upstream' } });
  expect(JSON.stringify(echo.content)).toContain('signed in upstream');
  // Our user id is the upstream subject, namespaced by the upstream issuer.
  expect(decodeJwt(provider.tokens()!.access_token).sub).toBe(`${idp.issuer}#u-alice`);
  await client.close();
});

// ---------------------------------------------------------------- refusals, step by step

class Jar {
  private readonly cookies = new Map<string, string>();
  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
  take(res: Response): void {
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const eq = pair!.indexOf('=');
      this.cookies.set(pair!.slice(0, eq).trim(), pair!.slice(eq + 1).trim());
    }
  }
}

async function registerClient(): Promise<string> {
  const res = await fetchVia(`${BASE}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_name: 'refusals', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' }),
  });
  return ((await res.json()) as { client_id: string }).client_id;
}

/** Our /authorize and /oauth/login (on A), then the provider; stops at the callback to our server. */
async function signInUntilCallback(hooks: { atProvider?: (url: URL) => Promise<void> } = {}) {
  const ours = new Jar();
  const theirs = new Jar();
  const pkce = await pkceChallenge();
  const authorize = new URL(`${BASE}/authorize`);
  authorize.search = new URLSearchParams({
    response_type: 'code',
    client_id: await registerClient(),
    redirect_uri: REDIRECT,
    code_challenge: pkce.code_challenge,
    code_challenge_method: 'S256',
    state: 'client-state',
    resource: MCP_URL,
  }).toString();
  let res = await fetchVia(authorize, { redirect: 'manual' });
  ours.take(res);
  res = await fetchVia(new URL(res.headers.get('location')!, BASE), {
    redirect: 'manual',
    headers: { cookie: ours.header() },
  });
  expect(res.status).toBe(302);
  let url = new URL(res.headers.get('location')!);
  expect(url.origin).toBe(idp.issuer);
  await hooks.atProvider?.(url);
  for (let hop = 0; hop < 10 && url.origin !== BASE; hop++) {
    res = await fetch(url, { redirect: 'manual', headers: { cookie: theirs.header() } });
    theirs.take(res);
    url = new URL(res.headers.get('location')!, url);
  }
  expect(url.pathname).toBe('/oauth/callback');
  return { callback: url, cookie: ours.header() };
}

const callbackOnB = (url: URL, cookie?: string) =>
  fetchVia(url, { redirect: 'manual', headers: cookie ? { cookie } : {} });

async function expectErrorPage(res: Response, status: number, code: string, text?: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get('location')).toBeNull();
  expect(res.headers.get('content-type')).toMatch(/^text\/html/);
  const page = await res.text();
  expect(page).toContain(`<code>${code}</code>`);
  if (text) expect(page).toContain(text);
}

test('an unknown state → 400 page', async () => {
  await expectErrorPage(
    await callbackOnB(new URL(`${BASE}/oauth/callback?code=x&state=not-ours`)),
    400,
    'invalid_request',
  );
});

test('a replayed callback → 400 page (the state is single use across instances)', async () => {
  const { callback, cookie } = await signInUntilCallback();
  const first = await callbackOnB(callback, cookie);
  expect(first.status).toBe(303);
  expect(first.headers.get('location')).toMatch(/^\/oauth\/consent\?flow=/);
  await expectErrorPage(await callbackOnB(callback, cookie), 400, 'invalid_request', 'already used');
});

test('a callback in another browser (no flow cookie) → 400 page', async () => {
  const { callback } = await signInUntilCallback();
  await expectErrorPage(await callbackOnB(callback), 400, 'invalid_request', 'another browser');
});

test('an ID token whose nonce is not the one we sent → 400 page', async () => {
  const { callback, cookie } = await signInUntilCallback({
    atProvider: async (url) => {
      // What we stored for this sign-in now expects another nonce than the provider will echo.
      const key = `${prefix}:oauth:upstream:${createHash('sha256').update(url.searchParams.get('state')!).digest('base64url')}`;
      const record = JSON.parse((await redis.get(key))!) as Record<string, string>;
      await redis.set(key, JSON.stringify({ ...record, nonce: 'not-the-nonce-we-sent' }), 'EX', 60);
    },
  });
  await expectErrorPage(await callbackOnB(callback, cookie), 400, 'invalid_request', 'could not be verified');
});

test.each([
  ['an email outside LOGIN_OIDC_ALLOWED_DOMAINS', 'u-bob', 'accounts of other.example may not sign in here'],
  ['an unverified email', 'u-carol', 'sign-in requires a verified email address'],
])('%s → 403 page', async (_name, user, text) => {
  idp.signInAs = user;
  const { callback, cookie } = await signInUntilCallback();
  await expectErrorPage(await callbackOnB(callback, cookie), 403, 'access_denied', text);
});

test('the user cancels at the provider → 403 page', async () => {
  idp.signInAs = undefined;
  const { callback, cookie } = await signInUntilCallback();
  expect(callback.searchParams.get('error')).toBe('access_denied');
  await expectErrorPage(await callbackOnB(callback, cookie), 403, 'access_denied', 'cancelled or refused');
});

test('provider down between its sign-in and our callback → 503 page with Retry-After', async () => {
  const { callback, cookie } = await signInUntilCallback();
  await idp.stop();
  try {
    const res = await callbackOnB(callback, cookie);
    expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
    await expectErrorPage(res, 503, 'temporarily_unavailable');
  } finally {
    await idp.start();
  }
});

describe('provider unreachable when the sign-in starts', () => {
  let hung: TcpServer;
  const sockets: Socket[] = [];
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    if (hung) await new Promise<void>((r) => hung.close(() => r()));
  });

  async function loginPageOf(server: RunningServer): Promise<Response> {
    const clientId = await registerClient();
    const pkce = await pkceChallenge();
    const authorize =
      `${server.url}/authorize?` +
      new URLSearchParams({
        response_type: 'code',
        client_id: clientId,
        redirect_uri: REDIRECT,
        code_challenge: pkce.code_challenge,
        code_challenge_method: 'S256',
        resource: MCP_URL,
      }).toString();
    const first = await fetch(authorize, { redirect: 'manual' });
    return fetch(new URL(first.headers.get('location')!, server.url), { redirect: 'manual' });
  }

  test('nothing listens → 503 page', async () => {
    const probe = createTcpServer().listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const c = await startServer(env({ LOGIN_OIDC_ISSUER: `http://127.0.0.1:${port}` }), createLogger('silent'));
    extra.push(c);
    await expectErrorPage(await loginPageOf(c), 503, 'temporarily_unavailable');
  });

  test('a provider that accepts and never answers → 503 page after LOGIN_OIDC_TIMEOUT_MS, not a hang', async () => {
    hung = createTcpServer((s) => sockets.push(s)).listen(0, '127.0.0.1');
    await once(hung, 'listening');
    const port = (hung.address() as AddressInfo).port;
    const c = await startServer(
      env({ LOGIN_OIDC_ISSUER: `http://127.0.0.1:${port}`, LOGIN_OIDC_TIMEOUT_MS: '300' }),
      createLogger('silent'),
    );
    extra.push(c);
    await expectErrorPage(await loginPageOf(c), 503, 'temporarily_unavailable');
  });
});
