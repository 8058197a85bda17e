/**
 * Deletes every key under a prefix, for tools that run the server on a throwaway prefix of a shared
 * Redis (`npm run bench`, `npm run conformance`, the test harness): sessions they leave behind
 * would otherwise linger until their idle TTL and count against per-user caps of the next run.
 */
import { createLogger } from '../observability/logger.js';
import { connectRedis } from './connections.js';
import type { RedisSettings } from './settings.js';

/** Number of keys removed. SCAN on every master (never KEYS, never across nodes in one command). */
export async function removeKeysWithPrefix(settings: RedisSettings, prefix: string): Promise<number> {
  const redis = await connectRedis(settings, createLogger('silent'), `${prefix}-cleanup`);
  try {
    let removed = 0;
    for (const node of redis.masters()) {
      for await (const keys of node.scanStream({ match: `${prefix}:*`, count: 500 }) as AsyncIterable<string[]>) {
        if (keys.length === 0) continue;
        // One UNLINK per key: in a cluster, keys of one node still span hash slots.
        const p = node.pipeline();
        for (const k of keys) p.unlink(k);
        for (const [err, n] of (await p.exec()) ?? []) if (!err) removed += Number(n);
      }
    }
    return removed;
  } finally {
    await redis.close();
  }
}
