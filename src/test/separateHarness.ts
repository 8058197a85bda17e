/**
 * Harness for separate-mode end-to-end suites: two full MCP instances (startServer with
 * AUTH_MODE=separate) on a real Redis under a random prefix, a "balancer" fetch that spreads /mcp
 * requests over them, a recorder of every Redis pub/sub message (to prove no token travels
 * there), and a headless OAuthClientProvider for the MCP SDK client.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { removeKeysWithPrefix } from '../redis/removePrefix.js';
import type { RunningServer } from '../server.js';
import { REDIS_URL, redisSettingsFor, startTestInstance } from './cluster.js';

/** What clients see (the balancer). Requests to it are rewritten onto the instances. */
export const BASE = 'http://localhost:3232';
export const MCP_URL = `${BASE}/mcp`;

export interface SeparateCluster {
  a: RunningServer;
  b: RunningServer;
  prefix: string;
  /** Sends requests for BASE round-robin to A and B; everything else (the AS) goes direct. */
  fetchVia: typeof fetch;
  /** Every message published under the prefix since start. */
  published: string[];
  close(): Promise<void>;
}

export async function startSeparateCluster(env: Record<string, string>): Promise<SeparateCluster> {
  const prefix = `t${randomBytes(5).toString('hex')}`;
  const recorder = new Redis(REDIS_URL);
  const published: string[] = [];
  recorder.on('pmessage', (_p: string, channel: string, message: string) => published.push(`${channel} ${message}`));
  await recorder.psubscribe(`${prefix}:*`);

  const start = () =>
    startTestInstance({
      REDIS_URL,
      REDIS_PREFIX: prefix,
      BASE_URI: BASE,
      AUTH_MODE: 'separate',
      SHUTDOWN_GRACE_MS: '1000',
      ...env,
    });
  const a = await start();
  const b = await start();
  let turn = 0;
  const fetchVia: typeof fetch = (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.origin !== BASE) return fetch(input, init);
    const target = new URL(turn++ % 2 === 0 ? a.url : b.url);
    url.protocol = target.protocol;
    url.host = target.host;
    return fetch(url, init);
  };
  return {
    a,
    b,
    prefix,
    fetchVia,
    published,
    async close() {
      await Promise.allSettled([a.stop(), b.stop()]);
      await recorder.punsubscribe();
      recorder.disconnect();
      await removeKeysWithPrefix(redisSettingsFor({ REDIS_URL }), prefix);
    },
  };
}
