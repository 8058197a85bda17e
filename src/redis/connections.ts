/**
 * Redis connections: a fixed set per instance, never one per request. `command` runs ordinary
 * commands and PUBLISH; `subscriber` carries every SUBSCRIBE/PSUBSCRIBE of this instance.
 *
 * With no REDIS_URL the server runs on ioredis-mock, an in-process stand-in with the same API.
 * It shares nothing with other processes, so it only supports a single instance.
 */
import { Redis } from 'ioredis';
import type { Logger } from '../observability/logger.js';
import { CorkingRedis } from './corkingRedis.js';

export interface RedisConnections {
  command: Redis;
  subscriber: Redis;
  embedded: boolean;
  close(): Promise<void>;
}

export class RedisUnavailableError extends Error {
  override name = 'RedisUnavailableError';
}

export async function connectRedis(
  redisUrl: string | undefined,
  log: Logger,
  /** Shown by CLIENT LIST, so operators (and tests) can count this deployment's connections. */
  name = 'mcp',
): Promise<RedisConnections> {
  if (!redisUrl) {
    const { default: RedisMock } = await import('ioredis-mock');
    const command = new RedisMock() as unknown as Redis;
    const subscriber = (command as unknown as { duplicate(): Redis }).duplicate();
    log.warn(
      'REDIS_URL is not set: using an embedded in-process Redis stand-in. Single instance only; state is lost on exit.',
    );
    return {
      command,
      subscriber,
      embedded: true,
      async close() {
        command.disconnect();
        subscriber.disconnect();
      },
    };
  }

  // The command connection batches a turn's commands into one write (see corkingRedis.ts).
  const make = (role: string) =>
    new (role === 'command' ? CorkingRedis : Redis)(redisUrl, {
      connectionName: `${name}-${role}`,
      lazyConnect: true,
      // Fail commands fast while disconnected instead of queueing them forever.
      maxRetriesPerRequest: 2,
      enableOfflineQueue: true,
      retryStrategy: (times) => Math.min(times * 200, 2000),
    });
  const command = make('command');
  const subscriber = make('subscriber');
  for (const [role, conn] of [
    ['command', command],
    ['subscriber', subscriber],
  ] as const) {
    conn.on('error', (err: Error) => log.error({ err: err.message, role }, 'redis connection error'));
  }
  try {
    await Promise.all([command.connect(), subscriber.connect()]);
    await command.ping();
  } catch (err) {
    command.disconnect();
    subscriber.disconnect();
    throw new RedisUnavailableError(
      `cannot connect to Redis at ${redactUrl(redisUrl)}: ${(err as Error).message}`,
    );
  }
  log.info({ redis: redactUrl(redisUrl) }, 'connected to Redis');
  return {
    command,
    subscriber,
    embedded: false,
    async close() {
      await Promise.allSettled([command.quit(), subscriber.quit()]);
    },
  };
}

/** Strip credentials from a Redis URL before it reaches a log line or an error message. */
export function redactUrl(u: string): string {
  try {
    const parsed = new URL(u);
    if (parsed.password) parsed.password = '***';
    if (parsed.username) parsed.username = parsed.username ? '***' : '';
    return parsed.toString();
  } catch {
    return '(unparseable URL)';
  }
}
