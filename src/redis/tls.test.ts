/**
 * TLS and ACL users for real: a TLS-only redis-server (Debian's build links OpenSSL) with a
 * certificate from a throwaway CA made by openssl, and an ACL user limited to one key prefix and
 * to the commands docs/deployment.md recommends. Two instances route a session through it; a wrong
 * CA, a wrong password and plain redis:// fail start-up with a message that says why.
 */
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { loadConfig } from '../config.js';
import { createLogger } from '../observability/logger.js';
import { startCluster, TOKENS } from '../test/cluster.js';
import { connectClient, initOnThenRoundRobin } from '../test/mcpClient.js';
import { startTlsRedis, SERVER_ACL_COMMANDS, type TlsServer } from '../test/redisServers.js';
import { connectRedis, RedisUnavailableError } from './connections.js';

const PREFIX = 'tlstest';
const log = createLogger('silent');
let server: TlsServer;
let admin: Redis;

beforeAll(async () => {
  server = await startTlsRedis();
  admin = new Redis({ host: '127.0.0.1', port: server.port, tls: { ca: readFileSync(server.caFile) } });
  await admin.call(
    'ACL',
    'SETUSER',
    'mcp',
    'reset',
    'on',
    '>s3cret:@/x',
    `~${PREFIX}:*`,
    `&${PREFIX}:*`,
    ...SERVER_ACL_COMMANDS.split(' '),
  );
}, 30_000);
afterAll(async () => {
  await admin?.quit();
  await server?.stop();
});

/** The ACL user and its password, percent-encoded for the URL. */
const GOOD = `mcp:${encodeURIComponent('s3cret:@/x')}`;
const url = (userinfo: string, scheme = 'rediss') => `${scheme}://${userinfo}@127.0.0.1:${server.port}`;
const connect = (env: Record<string, string>) => connectRedis(loadConfig(env).redis, log, 'tls-test');

test('two instances route a session over TLS as a least-privilege ACL user', async () => {
  // The password holds characters that must be percent-encoded in the URL.
  const env = { REDIS_URL: url(GOOD), REDIS_TLS_CA_FILE: server.caFile };
  const c = await startCluster(2, { REDIS_PREFIX: PREFIX, RATE_LIMIT_ENABLED: 'true' }, { env, admin: env });
  try {
    const [A, B] = c.instances as [(typeof c.instances)[0], (typeof c.instances)[0]];
    const { client } = await connectClient(A.url, TOKENS.alice, initOnThenRoundRobin(A.url, [B.url]));
    const r = await client.callTool({ name: 'echo', arguments: { message: 'over tls' } });
    expect(r).toEqual({ content: [{ type: 'text', text: 'Echo: over tls' }] });
    await client.subscribeResource({ uri: 'test://static/resource/1' });
    expect((await c.keys()).length).toBeGreaterThan(0);
    // The instances really are the ACL user, over TLS.
    const clients = ((await admin.client('LIST')) as string).split('\n').filter((l) => l.includes(` name=${PREFIX}-`));
    expect(clients.length).toBe(4);
    for (const line of clients) expect(line).toContain(' user=mcp ');
    await client.close();
  } finally {
    await c.close();
  }
});

test('no ACL log entry: the recommended rule allowed everything the server did', async () => {
  const denials = ((await admin.call('ACL', 'LOG')) as unknown[][]).filter((e) => JSON.stringify(e).includes('"mcp"'));
  expect(denials).toEqual([]);
});

test.each([
  [
    'a CA that did not sign the server certificate',
    () => ({ REDIS_URL: url(GOOD), REDIS_TLS_CA_FILE: server.strangerCaFile }),
    /certificate/i,
  ],
  ['a wrong password', () => ({ REDIS_URL: url('mcp:wrong'), REDIS_TLS_CA_FILE: server.caFile }), /WRONGPASS/],
  ['plain redis:// against the TLS port', () => ({ REDIS_URL: url(GOOD, 'redis') }), /./],
])(
  '%s stops start-up with a clear error',
  async (_, env, message) => {
    const err = await connect(env()).then(
      async (conns) => {
        await conns.close();
        return undefined;
      },
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RedisUnavailableError);
    expect((err as Error).message).toMatch(/^cannot connect to Redis at rediss?:\/\/127\.0\.0\.1:\d+: /);
    expect((err as Error).message).toMatch(message);
    // Never the password.
    expect((err as Error).message).not.toContain('s3cret');
  },
  15_000,
);
