/**
 * The per-request security path of /mcp in a production set-up: two full instances
 * (startServer, AUTH_MODE=integrated, rate limits on) on a private redis-server of their own (this
 * file kills it at the end), tokens from the real login and consent flow. Sessions are initialized
 * on A and driven on B, so every call crosses instances.
 *   - Both rate-limit windows and the token's revocation check leave in ONE Redis command, before
 *     the call is published, and never one after another.
 *   - The per-user budget is one budget across instances.
 *   - A revoked token is refused at once on every instance.
 *   - Redis down: the revocation status is unknown, so the call is refused with 503 + Retry-After
 *     on every instance, never let through.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect as tcpConnect } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { authorizeByForms } from '../auth/testing/formLogin.js';
import type { RunningServer } from '../server.js';
import { HeadlessProvider, connectWithOAuth } from './headlessOAuth.js';
import { balancedFetch, legacyPostHeaders } from './mcpClient.js';
import { integratedEnv, startTestInstance } from './cluster.js';
import { freePort } from './redisServers.js';

/** What clients see: the balancer's URL (both instances share it, as behind a load balancer). */
const BASE = 'http://localhost:3232';
const MCP_URL = `${BASE}/mcp`;
const PER_USER = 12;

let redisServer: ChildProcess;
let redisPort: number;
let dir: string;
let a: RunningServer;
let b: RunningServer;

async function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

const exited = (p: ChildProcess) => p.exitCode !== null || p.signalCode !== null;

async function startRedis(): Promise<void> {
  redisServer = spawn(
    'redis-server',
    ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: 'ignore' },
  );
  while (!(await reachable(redisPort))) await new Promise((r) => setTimeout(r, 20));
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'security-path-'));
  redisPort = await freePort();
  await startRedis();
  const port = redisPort;
  const start = () =>
    startTestInstance({
      REDIS_URL: `redis://127.0.0.1:${port}`,
      REDIS_PREFIX: 'security-path',
      ...integratedEnv(BASE),
      RATE_LIMIT_ENABLED: 'true',
      RATE_LIMIT_PER_USER: String(PER_USER),
      RATE_LIMIT_PER_ADDRESS: '100000',
    });
  a = await start();
  b = await start();
});

afterAll(async () => {
  // The instances release their Redis state on the way out: give them a Redis to do it on.
  if (exited(redisServer)) await startRedis();
  await Promise.allSettled([a?.stop(), b?.stop()]);
  if (!exited(redisServer)) {
    redisServer.kill('SIGKILL');
    await once(redisServer, 'exit');
  }
  rmSync(dir, { recursive: true, force: true });
});

/** OAuth on A; a token for `userId` from the real registration, login, consent and token exchange. */
async function tokenFor(userId: string): Promise<{ token: string; clientId: string }> {
  const toA = balancedFetch(() => a.url);
  const provider = new HeadlessProvider({
    redirectUrl: 'http://127.0.0.1:6276/oauth/callback',
    clientName: 'security path test',
    browser: (url) => authorizeByForms(url, { userId, fetch: toA }),
  });
  const { client } = await connectWithOAuth(provider, MCP_URL, toA);
  await client.close();
  return { token: provider.tokens()!.access_token, clientId: String(provider.clientInformation()!.client_id) };
}

const post = (instance: RunningServer, token: string, body: unknown, sessionId?: string) =>
  fetch(`${instance.url}/mcp`, {
    method: 'POST',
    headers: legacyPostHeaders(token, sessionId),
    body: JSON.stringify(body),
  });

/** A session initialized on A. */
async function sessionOnA(token: string): Promise<string> {
  const init = await post(a, token, {
    jsonrpc: '2.0',
    id: 0,
    method: 'initialize',
    params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } },
  });
  await init.text();
  const sid = init.headers.get('mcp-session-id');
  expect(sid).toBeTruthy();
  expect((await post(a, token, { jsonrpc: '2.0', method: 'notifications/initialized' }, sid!)).status).toBe(202);
  return sid!;
}

let nextId = 1;
const echo = (instance: RunningServer, token: string, sid: string) =>
  post(
    instance,
    token,
    { jsonrpc: '2.0', id: nextId++, method: 'tools/call', params: { name: 'echo', arguments: { message: 'hi' } } },
    sid,
  );

/** Records the commands an instance's command connection sends while `during` runs. */
async function commandsSentBy(
  instance: RunningServer,
  during: () => Promise<void>,
): Promise<Array<{ name: string; args: unknown[] }>> {
  const connection = instance.redis.command;
  const sent: Array<{ name: string; args: unknown[] }> = [];
  // eslint-disable-next-line @typescript-eslint/unbound-method -- re-applied with its own `this` below
  const original = connection.sendCommand;
  connection.sendCommand = function (this: Redis, ...args: Parameters<Redis['sendCommand']>) {
    const command = args[0] as unknown as { name: string; args: unknown[] };
    sent.push({ name: command.name.toLowerCase(), args: command.args });
    return original.apply(this, args);
  };
  try {
    await during();
  } finally {
    connection.sendCommand = original;
  }
  return sent;
}

test('both rate limits and the revocation check leave in one Redis command, before the publish', async () => {
  const { token } = await tokenFor('carol');
  const sid = await sessionOnA(token);
  const sent = await commandsSentBy(b, async () => {
    const res = await echo(b, token, sid);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('Echo: hi');
  });
  // Background work of the instance (heartbeats, session bookkeeping) may interleave; what the
  // call itself sends is the security script and then the publish to the host.
  const security = sent.filter((c) => c.name === 'evalsha' || c.name === 'eval' || c.name === 'exists');
  expect(security).toHaveLength(1);
  const [script] = security;
  // Three keys: the address window, the token's grant, the user window.
  expect(script!.args[1]).toBe('3');
  const keys = script!.args.slice(2, 5).map(String);
  expect(keys[0]).toContain(':ratelimit:mcp-address:');
  expect(keys[1]).toContain(':oauth:grant:');
  expect(keys[2]).toContain(':ratelimit:mcp-user:');
  const publishAt = sent.findIndex((c) => c.name === 'publish');
  expect(publishAt).toBeGreaterThan(sent.indexOf(script!));
});

test('the per-user budget is shared by both instances: 429 with Retry-After once spent, on either', async () => {
  const { token } = await tokenFor('bob');
  const sid = await sessionOnA(token);
  const first = await echo(b, token, sid);
  expect(first.status).toBe(200);
  const left = Number(/"mcp-user"; r=(\d+)/.exec(first.headers.get('ratelimit') ?? '')?.[1]);
  expect(Number.isInteger(left)).toBe(true);
  expect(left).toBeLessThan(PER_USER);
  // Spend the rest alternating instances: each sees only part of it, yet the budget is one.
  for (let i = 0; i < left; i++) expect((await echo(i % 2 === 0 ? a : b, token, sid)).status).toBe(200);
  for (const instance of [a, b]) {
    const refused = await echo(instance, token, sid);
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(await refused.json()).toEqual({
      jsonrpc: '2.0',
      error: { code: -32000, message: expect.stringContaining('Rate limit exceeded') },
      id: null,
    });
  }
});

test('a revoked token is refused at once on every instance', async () => {
  const { token, clientId } = await tokenFor('alice');
  const sid = await sessionOnA(token);
  expect((await echo(b, token, sid)).status).toBe(200);
  expect((await echo(a, token, sid)).status).toBe(200);
  const revoked = await fetch(`${a.url}/revoke`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: clientId, token }),
  });
  expect(revoked.status).toBe(200);
  // The very next request, on the instance that did not revoke and on the one that did.
  for (const instance of [b, a]) {
    const denied = await echo(instance, token, sid);
    expect(denied.status).toBe(401);
    expect(denied.headers.get('www-authenticate')).toContain('error="invalid_token"');
    expect(((await denied.json()) as { error_description: string }).error_description).toBe('token has been revoked');
  }
});

test('Redis down: the revocation status is unknown, so every instance answers 503 with Retry-After', async () => {
  const { token } = await tokenFor('dave');
  const sid = await sessionOnA(token);
  expect((await echo(b, token, sid)).status).toBe(200);
  redisServer.kill('SIGKILL');
  await once(redisServer, 'exit');
  for (const instance of [b, a]) {
    const res = await echo(instance, token, sid);
    expect(res.status).toBe(503);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(((await res.json()) as { error: string }).error).toBe('temporarily_unavailable');
  }
});
