/**
 * Test harness: several server instances in one process, each with its own Redis connections,
 * sharing one real Redis under a random prefix — the multi-instance deployment in miniature.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { loadConfig } from '../config.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { removeKeysWithPrefix } from '../redis/removePrefix.js';
import { startServer, type RunningServer } from '../server.js';
import { staticTokenAuth } from './staticTokenAuth.js';

export const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
export const TOKENS = { alice: 'token-alice', bob: 'token-bob' } as const;

export interface Cluster {
  instances: RunningServer[];
  prefix: string;
  /** A plain connection for inspecting keys. */
  redis: Redis;
  /** Starts one more instance; `log` replaces the default logger (tests that read the logs). */
  start(env?: Record<string, string>, log?: Logger): Promise<RunningServer>;
  /** Every key under this cluster's prefix. */
  keys(): Promise<string[]>;
  close(): Promise<void>;
}

export async function startCluster(n: number, env: Record<string, string> = {}): Promise<Cluster> {
  const prefix = `t${randomBytes(5).toString('hex')}`;
  const redis = new Redis(REDIS_URL);
  const instances: RunningServer[] = [];
  const start = async (extra: Record<string, string> = {}, logger?: Logger) => {
    const config = loadConfig({
      REDIS_URL,
      REDIS_PREFIX: prefix,
      PORT: '0',
      HOST: '127.0.0.1',
      AUTH_MODE: 'none',
      LOG_LEVEL: process.env['TEST_LOG_LEVEL'] ?? 'silent',
      RATE_LIMIT_ENABLED: 'false',
      SHUTDOWN_GRACE_MS: '2000',
      ...env,
      ...extra,
    });
    const log = logger ?? createLogger(config.LOG_LEVEL);
    const server = await startServer(config, log, {
      auth: staticTokenAuth({ [TOKENS.alice]: 'alice', [TOKENS.bob]: 'bob' }),
    });
    instances.push(server);
    return server;
  };
  for (let i = 0; i < n; i++) await start();
  return {
    instances,
    prefix,
    redis,
    start,
    keys: () => redis.keys(`${prefix}:*`),
    async close() {
      await Promise.allSettled(instances.map((s) => s.stop()));
      await removeKeysWithPrefix(REDIS_URL, prefix);
      redis.disconnect();
    },
  };
}
