/**
 * Redis connections: a fixed set per instance, never one per request or per session.
 *
 * - `embedded` (no REDIS_* settings): ioredis-mock, an in-process stand-in with the same API. It
 *   shares nothing with other processes, so it only supports a single instance.
 * - `single` and `sentinel`: two connections, `command` (ordinary commands and PUBLISH) and a
 *   subscriber carrying every SUBSCRIBE of this instance. With Sentinel, ioredis asks the sentinels
 *   for the current master and asks again after losing it (failover).
 * - `cluster`: an ioredis Cluster with one command connection per node it knows of (replicas stay
 *   idle) and, for sharded pub/sub, one subscriber connection per master we listen on: O(shards)
 *   per instance (src/redis/pubsub.ts).
 *
 * The settings come from src/redis/settings.ts; TLS and the ACL user apply to every node.
 */
import { Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { Logger } from '../observability/logger.js';
import { CorkingCluster } from './corkingCluster.js';
import { CorkingRedis } from './corkingRedis.js';
import { ClassicPubSub, ShardedPubSub, type PubSub } from './pubsub.js';
import { describeRedis, type RedisMode, type RedisSettings } from './settings.js';

export interface RedisConnections {
  mode: RedisMode;
  /**
   * Ordinary commands. In cluster mode this is an ioredis `Cluster`, which has the same command
   * API (both extend ioredis's Commander) and routes each command to the node owning its key; code
   * outside src/redis uses commands only, never connection internals, and keeps multi-key commands,
   * MULTI blocks and scripts within one hash slot (src/redis/keys.ts).
   */
  command: Redis;
  pubsub: PubSub;
  embedded: boolean;
  /** Resolves when every master answers PING (and, in a cluster, every slot has one): /ready. */
  ping(): Promise<void>;
  /** One connection per master (the only one outside a cluster): per-node commands like SCAN. */
  masters(): Redis[];
  /** Graceful: pending replies arrive first. */
  close(): Promise<void>;
  /** Abrupt, as if the process died (tests of instance loss). */
  disconnect(): void;
}

export class RedisUnavailableError extends Error {
  override name = 'RedisUnavailableError';
}

/** Replies that mean the credentials or the ACL user's rights are wrong, not the network. */
const ACCESS_DENIED = /\b(WRONGPASS|NOAUTH|NOPERM)\b/;

/** Cluster slots in total (Redis Cluster specification, "Key distribution model"). */
const SLOTS = 16384;

export async function connectRedis(
  settings: RedisSettings,
  log: Logger,
  /** Shown by CLIENT LIST, so operators (and tests) can count this deployment's connections. */
  name = 'mcp',
): Promise<RedisConnections> {
  if (settings.mode === 'embedded') return embedded(log);
  const conns = settings.mode === 'cluster' ? cluster(settings, name) : classic(settings, name);
  // ioredis reports the real cause (a certificate, WRONGPASS, NOPERM) as an `error` event and then
  // fails the connect with a generic "Connection is closed."; keep the cause for the message.
  // The listener stays: an error event without one would crash the process.
  const seen: Error[] = [];
  let connected = false;
  for (const [role, emitter] of conns.emitters) {
    emitter.on('error', (err: Error) => {
      if (connected) log.error({ err: err.message, role }, 'redis connection error');
      else seen.push(err);
    });
  }
  try {
    await conns.connect();
    await conns.ping();
    // Credentials refused during the handshake fail start-up, even if PING then passed.
    const refused = seen.find((e) => ACCESS_DENIED.test(e.message));
    if (refused) throw refused;
  } catch (err) {
    conns.disconnect();
    const cause = seen.find((e) => ACCESS_DENIED.test(e.message)) ?? seen.at(-1) ?? (err as Error);
    throw new RedisUnavailableError(`cannot connect to ${describeRedis(settings)}: ${cause.message}`);
  }
  connected = true;
  log.info({ redis: describeRedis(settings), mode: settings.mode }, 'connected to Redis');
  return conns;
}

interface Connecting extends RedisConnections {
  connect(): Promise<void>;
  emitters: Array<[string, { on(event: 'error', fn: (err: Error) => void): unknown }]>;
}

async function embedded(log: Logger): Promise<RedisConnections> {
  const { default: RedisMock } = await import('ioredis-mock');
  const command = new RedisMock();
  const subscriber = (command as unknown as { duplicate(): Redis }).duplicate();
  log.warn(
    'REDIS_URL is not set: using an embedded in-process Redis stand-in. Single instance only; state is lost on exit.',
  );
  const disconnect = () => {
    command.disconnect();
    subscriber.disconnect();
  };
  return {
    mode: 'embedded',
    command,
    pubsub: new ClassicPubSub(command, subscriber),
    embedded: true,
    async ping() {
      await command.ping();
    },
    masters: () => [command],
    async close() {
      disconnect();
    },
    disconnect,
  };
}

/** What every data-node connection shares: credentials, TLS, database. */
function nodeOptions(s: RedisSettings): RedisOptions {
  const o: RedisOptions = { db: s.db };
  if (s.username !== undefined) o.username = s.username;
  if (s.password !== undefined) o.password = s.password;
  if (s.tls) o.tls = s.tls.ca === undefined ? {} : { ca: s.tls.ca };
  return o;
}

/** One Redis, or the master of a Sentinel group: a command and a subscriber connection. */
function classic(s: RedisSettings, name: string): Connecting {
  const base: RedisOptions = {
    ...nodeOptions(s),
    lazyConnect: true,
    // Fail commands fast while disconnected instead of queueing them forever.
    maxRetriesPerRequest: 2,
    enableOfflineQueue: true,
    retryStrategy: (times) => Math.min(times * 200, 2000),
  };
  if (s.mode === 'sentinel') {
    Object.assign(base, {
      sentinels: s.nodes,
      name: s.sentinelMaster,
      sentinelUsername: s.sentinelUsername,
      sentinelPassword: s.sentinelPassword,
      // With rediss:// the sentinels and the data nodes all speak TLS, under the same CA.
      enableTLSForSentinelMode: s.tls !== undefined,
      sentinelTLS: base.tls,
      // Rounds over every sentinel before one connection attempt fails (then `retryStrategy`
      // starts the next attempt); without a bound, start-up would wait forever for a sentinel.
      sentinelRetryStrategy: (times: number) => (times > 5 ? null : times * 200),
      // A master demoted while we stayed connected (a partition that healed) refuses writes:
      // reconnect, which asks the sentinels again, and resend the command.
      reconnectOnError: (err: Error) => (err.message.startsWith('READONLY') ? 2 : false),
    } satisfies RedisOptions);
  } else {
    Object.assign(base, { host: s.nodes[0]!.host, port: s.nodes[0]!.port });
  }
  // The command connection batches a turn's commands into one write (see corkingRedis.ts).
  const command = new CorkingRedis({ ...base, connectionName: `${name}-command` });
  const subscriber = new Redis({ ...base, connectionName: `${name}-subscriber` });
  return {
    mode: s.mode,
    command,
    pubsub: new ClassicPubSub(command, subscriber),
    embedded: false,
    emitters: [
      ['command', command],
      ['subscriber', subscriber],
    ],
    async connect() {
      // Both attempts settle before a failure is reported: a TLS handshake still running when the
      // caller disconnects would fail later with nobody listening.
      const results = await Promise.allSettled([command.connect(), subscriber.connect()]);
      for (const r of results) if (r.status === 'rejected') throw r.reason;
    },
    async ping() {
      await command.ping();
    },
    masters: () => [command],
    disconnect() {
      command.disconnect();
      subscriber.disconnect();
    },
    async close() {
      await Promise.allSettled([command.quit(), subscriber.quit()]);
    },
  };
}

function cluster(s: RedisSettings, name: string): Connecting {
  const options: ClusterOptions = {
    lazyConnect: true,
    // ioredis names its sharded subscribers `ioredis-cluster(ssubscriber):<name>`.
    redisOptions: { ...nodeOptions(s), connectionName: name, maxRetriesPerRequest: 2 },
    // One subscriber connection per master we listen on, for SSUBSCRIBE (src/redis/pubsub.ts).
    shardedSubscribers: true,
    // No auto-pipelining (CorkingCluster batches instead): ioredis 5.11 returns a batch's MOVED
    // errors to the callers when the batch spans slots (it retries only uniform batches), so every
    // request in flight while a failover moves slots would fail; a lone command follows MOVED by
    // itself. (It would also pipeline SSUBSCRIBE onto a command connection.)
    enableAutoPipelining: false,
    // While the cluster as a whole is unreachable, fail commands at once rather than queue them
    // without bound (a single node's loss is retried: retryDelayOnFailover × maxRedirections).
    // This also keeps a closed client from queueing forever: ioredis 5.11 can leave a
    // disconnected Cluster in status `close` instead of `end`.
    enableOfflineQueue: false,
    // Certificates name the hosts the cluster announces; resolving them first would make TLS
    // check the name against an IP address (ioredis README, "AWS ElastiCache clusters with TLS").
    ...(s.tls
      ? { dnsLookup: (address: string, callback: (err: null, address: string) => void) => callback(null, address) }
      : {}),
  };
  // Like the single-Redis command connection, a turn's commands leave in one write per node.
  const c = new CorkingCluster(s.nodes, options);
  const masters = () => c.nodes('master');
  return {
    mode: 'cluster',
    command: c as unknown as Redis,
    pubsub: new ShardedPubSub(c),
    embedded: false,
    emitters: [['cluster', c]],
    async connect() {
      await c.connect();
    },
    async ping() {
      // Ready only when every slot has a master we can reach: right after a master dies its slots
      // still point at it (or at nothing) until a replica is promoted and the map refreshed.
      const owners = new Set<string>();
      for (let slot = 0; slot < SLOTS; slot++) {
        const owner = c.slots[slot]?.[0];
        if (owner === undefined) throw new Error(`slot ${slot} has no master`);
        owners.add(owner);
      }
      const byKey = new Map(masters().map((m) => [`${m.options.host}:${m.options.port}`, m]));
      await Promise.all(
        [...owners].map((key) => {
          const node = byKey.get(key);
          if (!node) throw new Error(`master ${key} is not connected`);
          return node.ping();
        }),
      );
    },
    masters,
    disconnect() {
      c.disconnect();
    },
    async close() {
      await c.quit().catch(() => c.disconnect());
    },
  };
}
