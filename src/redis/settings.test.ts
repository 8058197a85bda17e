import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../config.js';
import { describeRedis } from './settings.js';

const redis = (env: Record<string, string>) => loadConfig(env).redis;

function configError(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error(`expected ${JSON.stringify(env)} to be refused`);
}

const caFile = join(tmpdir(), `settings-test-ca-${process.pid}.pem`);
writeFileSync(caFile, '-----BEGIN CERTIFICATE-----\nnot checked here\n-----END CERTIFICATE-----\n');
afterAll(() => rmSync(caFile, { force: true }));

describe('the Redis topology the settings describe', () => {
  test('nothing set: the embedded stand-in', () => {
    expect(redis({})).toEqual({ mode: 'embedded', nodes: [], db: 0 });
  });

  test('REDIS_URL as before: one Redis, database and credentials from the URL', () => {
    expect(redis({ REDIS_URL: 'redis://127.0.0.1:6379' })).toEqual({
      mode: 'single',
      nodes: [{ host: '127.0.0.1', port: 6379 }],
      db: 0,
    });
    expect(redis({ REDIS_URL: 'redis://cache/2' })).toMatchObject({ nodes: [{ host: 'cache', port: 6379 }], db: 2 });
    // An ACL user; userinfo is percent-decoded (a password may contain ':' or '@').
    expect(redis({ REDIS_URL: 'redis://app:p%40ss%3Aword@cache:7000' })).toMatchObject({
      username: 'app',
      password: 'p@ss:word',
    });
    // Password only (requirepass, the default user).
    const legacy = redis({ REDIS_URL: 'redis://:secret@cache' });
    expect(legacy.password).toBe('secret');
    expect(legacy.username).toBeUndefined();
  });

  test('rediss:// means TLS, with the system CAs or REDIS_TLS_CA_FILE', () => {
    expect(redis({ REDIS_URL: 'rediss://cache:6380' }).tls).toEqual({});
    expect(redis({ REDIS_URL: 'rediss://cache:6380', REDIS_TLS_CA_FILE: caFile }).tls?.ca).toContain(
      'BEGIN CERTIFICATE',
    );
  });

  test('REDIS_CLUSTER_NODES: cluster mode; REDIS_URL then brings only scheme and credentials', () => {
    const s = redis({ REDIS_CLUSTER_NODES: 'a:7000, b:7001,[::1]:7002', REDIS_URL: 'rediss://app:pw@ignored:1' });
    expect(s).toMatchObject({
      mode: 'cluster',
      nodes: [
        { host: 'a', port: 7000 },
        { host: 'b', port: 7001 },
        { host: '::1', port: 7002 },
      ],
      username: 'app',
      password: 'pw',
      tls: {},
    });
    expect(describeRedis(s)).toBe('Redis Cluster at rediss://a:7000,b:7001,[::1]:7002');
  });

  test('REDIS_SENTINELS + REDIS_SENTINEL_MASTER: Sentinel mode', () => {
    const s = redis({
      REDIS_SENTINELS: 's1:26379,s2:26379',
      REDIS_SENTINEL_MASTER: 'mymaster',
      REDIS_SENTINEL_PASSWORD: 'sentinel-pw',
      REDIS_URL: 'redis://app:pw@ignored/3',
    });
    expect(s).toMatchObject({
      mode: 'sentinel',
      sentinelMaster: 'mymaster',
      sentinelPassword: 'sentinel-pw',
      username: 'app',
      db: 3,
    });
    expect(describeRedis(s)).toBe('Redis master "mymaster" via the sentinels redis://s1:26379,s2:26379');
  });

  test('descriptions never carry credentials', () => {
    expect(describeRedis(redis({ REDIS_URL: 'rediss://app:topsecret@cache:6380/1' }))).toBe(
      'Redis at rediss://cache:6380/1',
    );
  });
});

describe('a bad combination stops start-up, naming the variables', () => {
  test.each([
    [
      { REDIS_CLUSTER_NODES: 'a:1', REDIS_SENTINELS: 's:2', REDIS_SENTINEL_MASTER: 'm' },
      ['REDIS_CLUSTER_NODES', 'REDIS_SENTINELS'],
    ],
    [{ REDIS_SENTINELS: 's:2' }, ['REDIS_SENTINEL_MASTER']],
    [{ REDIS_SENTINEL_MASTER: 'm' }, ['REDIS_SENTINEL_MASTER', 'REDIS_SENTINELS']],
    [{ REDIS_URL: 'redis://a', REDIS_SENTINEL_PASSWORD: 'x' }, ['REDIS_SENTINEL_PASSWORD', 'REDIS_SENTINELS']],
    [{ REDIS_URL: 'redis://cache', REDIS_TLS_CA_FILE: caFile }, ['REDIS_TLS_CA_FILE', 'rediss://']],
    [{ REDIS_TLS_CA_FILE: caFile }, ['REDIS_TLS_CA_FILE']],
    [{ REDIS_URL: 'rediss://cache', REDIS_TLS_CA_FILE: '/nonexistent/ca.pem' }, ['REDIS_TLS_CA_FILE', 'ENOENT']],
    [{ REDIS_CLUSTER_NODES: 'a:1', REDIS_URL: 'redis://x/2' }, ['REDIS_URL', 'database 0']],
    [{ REDIS_URL: 'http://cache:6379' }, ['REDIS_URL', 'redis://']],
    [{ REDIS_URL: 'redis://cache/main' }, ['REDIS_URL', 'database number']],
    [{ REDIS_URL: 'redis://cache?tls=true' }, ['REDIS_URL', 'query']],
    [{ REDIS_CLUSTER_NODES: 'a:1,nonsense' }, ['REDIS_CLUSTER_NODES', 'nonsense']],
    [{ REDIS_CLUSTER_NODES: 'a:99999' }, ['REDIS_CLUSTER_NODES']],
    [{ REDIS_SENTINELS: ' , ', REDIS_SENTINEL_MASTER: 'm' }, ['REDIS_SENTINELS']],
  ])('%j', (env, words) => {
    const message = configError(env);
    for (const w of words) expect(message).toContain(w);
  });
});
