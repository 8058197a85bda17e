/**
 * Test harness: several server instances in one process, each with its own Redis connections,
 * sharing one real Redis deployment under a random prefix — the multi-instance deployment in
 * miniature.
 *
 * The Redis topology comes from the jest project running the suite (package.json: `single`,
 * `cluster`, `sentinel`; src/test/globalSetup.ts starts the deployments): the same suites run on
 * one Redis, on a Redis Cluster with sharded pub/sub, and on a Sentinel-managed master.
 */
import { randomBytes } from 'node:crypto';
import type { Cluster as RedisCluster, Redis } from 'ioredis';
import { loadConfig } from '../config.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { connectRedis, type RedisConnections } from '../redis/connections.js';
import { createKeyspace, type Keyspace } from '../redis/keys.js';
import { removeKeysWithPrefix } from '../redis/removePrefix.js';
import type { RedisSettings } from '../redis/settings.js';
import { startServer, type RunningServer, type StartOptions } from '../server.js';
import { staticTokenAuth } from './staticTokenAuth.js';

export type Topology = 'single' | 'cluster' | 'sentinel';

/** The topology of the jest project running this file (its `globals`). */
export const TOPOLOGY: Topology = (globalThis as { TEST_REDIS_TOPOLOGY?: Topology }).TEST_REDIS_TOPOLOGY ?? 'single';

export const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';

/**
 * The REDIS_* settings of the deployment under test, as a server instance reads them. On the
 * cluster and Sentinel deployments they name a least-privilege ACL user (src/test/redisDeployment.ts).
 */
export function redisEnv(topology: Topology = TOPOLOGY): Record<string, string> {
  return topology === 'single' ? { REDIS_URL } : deploymentEnv(`TEST_${topology.toUpperCase()}_ENV`, topology);
}

/** The same deployment as its administrator (default user): for inspection and clean-up. */
export function adminRedisEnv(topology: Topology = TOPOLOGY): Record<string, string> {
  return topology === 'single' ? { REDIS_URL } : deploymentEnv(`TEST_${topology.toUpperCase()}_ADMIN_ENV`, topology);
}

function deploymentEnv(variable: string, topology: Topology): Record<string, string> {
  const json = process.env[variable];
  if (!json)
    throw new Error(
      `${variable} is not set: the ${topology} deployment was not started (src/test/globalSetup.topologies.ts)`,
    );
  return JSON.parse(json) as Record<string, string>;
}

export function redisSettingsFor(env: Record<string, string> = redisEnv()): RedisSettings {
  return loadConfig(env).redis;
}

/** Connections for a test's own inspection, named so they never count as an instance's. */
export function inspectRedis(env: Record<string, string> = adminRedisEnv()): Promise<RedisConnections> {
  return connectRedis(redisSettingsFor(env), createLogger('silent'), 'test-inspect');
}

export const TOKENS = { alice: 'token-alice', bob: 'token-bob' } as const;

export interface Cluster {
  instances: RunningServer[];
  prefix: string;
  keyspace: Keyspace;
  /** A connection for inspecting keys (an ioredis Cluster in cluster mode: commands only). */
  redis: Redis;
  /** Starts one more instance; `log` replaces the default logger (tests that read the logs). */
  start(env?: Record<string, string>, log?: Logger): Promise<RunningServer>;
  /** Every key under this cluster's prefix (SCAN on every master). */
  keys(): Promise<string[]>;
  /** Subscribers of a channel across the deployment. */
  receivers(channel: string): Promise<number>;
  /** Redis connections held by this cluster's instances, counted in CLIENT LIST on every node. */
  connectionCount(): Promise<number>;
  /** Cuts an instance's subscriber connections from the server side (CLIENT KILL), as a network blip would. */
  dropSubscriber(instance: RunningServer): Promise<void>;
  close(): Promise<void>;
}

/** The REDIS_* settings of a deployment for its server instances and for its administrator. */
export interface DeploymentEnv {
  env: Record<string, string>;
  admin: Record<string, string>;
}

/**
 * One server instance as every test harness starts it: loopback, an ephemeral port, no rate
 * limits, logs at TEST_LOG_LEVEL (silent by default); `env` adds to and overrides these.
 */
export function startTestInstance(
  env: Record<string, string>,
  opts: StartOptions & { log?: Logger } = {},
): Promise<RunningServer> {
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    RATE_LIMIT_ENABLED: 'false',
    LOG_LEVEL: process.env['TEST_LOG_LEVEL'] ?? 'silent',
    ...env,
  });
  return startServer(config, opts.log ?? createLogger(config.LOG_LEVEL), opts);
}

/**
 * The settings of an instance that is its own OAuth server at `baseUri` (the public URL the tests
 * reach through `balancedFetch`), with the registration limits relaxed and a short shutdown grace:
 * what the suites running real integrated flows across instances share.
 */
export function integratedEnv(baseUri: string): Record<string, string> {
  return { BASE_URI: baseUri, AUTH_MODE: 'integrated', OAUTH_RATE_LIMIT_RELAXED: 'true', SHUTDOWN_GRACE_MS: '1000' };
}

/**
 * `n` instances with `env` on top of the test defaults, on the deployment under test or on
 * `redis` (a private one, e.g. the failover suite's).
 */
export async function startCluster(
  n: number,
  env: Record<string, string> = {},
  redis: DeploymentEnv = { env: redisEnv(), admin: adminRedisEnv() },
): Promise<Cluster> {
  // A random prefix, unless the test needs a known one (e.g. for an ACL user's key pattern).
  const prefix = env['REDIS_PREFIX'] ?? `t${randomBytes(5).toString('hex')}`;
  const deployment = redis.env;
  const inspect = await inspectRedis(redis.admin);
  const instances: RunningServer[] = [];
  const start = async (extra: Record<string, string> = {}, logger?: Logger) => {
    const server = await startTestInstance(
      { ...deployment, REDIS_PREFIX: prefix, AUTH_MODE: 'none', SHUTDOWN_GRACE_MS: '2000', ...env, ...extra },
      { log: logger, auth: staticTokenAuth({ [TOKENS.alice]: 'alice', [TOKENS.bob]: 'bob' }) },
    );
    instances.push(server);
    return server;
  };
  for (let i = 0; i < n; i++) await start();
  /** CLIENT LIST of every node, replicas included: a connection anywhere counts. */
  const clientLists = async () => {
    const nodes =
      inspect.mode === 'cluster' ? (inspect.command as unknown as RedisCluster).nodes('all') : inspect.masters();
    return (await Promise.all(nodes.map((node) => node.client('LIST') as Promise<string>))).flatMap((list) =>
      list.split('\n'),
    );
  };
  return {
    instances,
    prefix,
    keyspace: createKeyspace(prefix),
    redis: inspect.command,
    start,
    async keys() {
      const all: string[] = [];
      for (const node of inspect.masters()) {
        for await (const batch of node.scanStream({ match: `${prefix}:*`, count: 1000 }) as AsyncIterable<string[]>)
          all.push(...batch);
      }
      return all;
    },
    receivers: (channel) => inspect.pubsub.receivers(channel),
    async connectionCount() {
      // Instance connections are named `<prefix>-<instance id>…` (ioredis prefixes cluster ones).
      // Not counted: the cluster client's `refresher`, a connection opened for one CLUSTER SLOTS
      // every few seconds and closed at once.
      return (await clientLists()).filter(
        (l) => new RegExp(` name=\\S*${prefix}-`).test(l) && !l.includes('(refresher)'),
      ).length;
    },
    async dropSubscriber(instance) {
      const id = instance.routing.instanceId;
      const subscriber = new RegExp(
        ` name=(${prefix}-${id}-subscriber|ioredis-cluster\\(ssubscriber\\):${prefix}-${id}) `,
      );
      const nodes =
        inspect.mode === 'cluster' ? (inspect.command as unknown as RedisCluster).nodes('master') : inspect.masters();
      for (const node of nodes) {
        for (const line of ((await node.client('LIST')) as string).split('\n')) {
          if (!subscriber.test(line)) continue;
          const clientId = /^id=(\d+)/.exec(line)?.[1];
          if (clientId) await node.client('KILL', 'ID', clientId);
        }
      }
    },
    async close() {
      await Promise.allSettled(instances.map((s) => s.stop()));
      await removeKeysWithPrefix(redisSettingsFor(redis.admin), prefix);
      await inspect.close();
    },
  };
}
