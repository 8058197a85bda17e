/**
 * Deletes every key under a prefix, for tools that run the server on a throwaway prefix of a shared
 * Redis (`npm run bench`, `npm run conformance`): sessions they leave behind would otherwise linger
 * until their idle TTL and count against per-user caps of the next run.
 */
import { Redis } from 'ioredis';

/** Number of keys removed. SCAN-based: never blocks Redis on a large keyspace. */
export async function removeKeysWithPrefix(redisUrl: string, prefix: string): Promise<number> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let removed = 0;
    for await (const keys of redis.scanStream({ match: `${prefix}:*`, count: 500 }) as AsyncIterable<string[]>) {
      if (keys.length > 0) removed += await redis.unlink(...keys);
    }
    return removed;
  } finally {
    redis.disconnect();
  }
}
