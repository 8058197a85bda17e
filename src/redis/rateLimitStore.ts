/**
 * The shared counters behind every rate limit (express-rate-limit with rate-limit-redis), on
 * whichever topology the instance runs.
 *
 * rate-limit-redis loads its Lua scripts with SCRIPT LOAD and runs them with EVALSHA on the
 * counter's key. Redis keeps loaded scripts per node, and Redis 7 no longer replicates SCRIPT LOAD:
 * in a cluster, a script loaded on whichever node the client picked is unknown to the node owning
 * the counter's slot, and to a replica promoted by a failover. So SCRIPT commands go to every
 * master; on NOSCRIPT (after a failover) the store loads again, which reaches the new master too.
 */
import type { Cluster, Redis } from 'ioredis';
import { RedisStore, type RedisReply } from 'rate-limit-redis';

export function rateLimitStore(redis: Pick<Redis, 'call'>, prefix: string): RedisStore {
  const cluster = isCluster(redis) ? redis : undefined;
  return new RedisStore({
    prefix,
    sendCommand: async (command: string, ...args: string[]) => {
      if (cluster && command.toUpperCase() === 'SCRIPT') {
        const replies = await Promise.all(cluster.nodes('master').map((node) => node.call(command, ...args)));
        // SCRIPT LOAD answers the script's SHA1, the same on every node.
        return replies[0] as RedisReply;
      }
      return redis.call(command, ...args) as Promise<RedisReply>;
    },
  });
}

function isCluster(redis: object): redis is Cluster {
  return (redis as Partial<Cluster>).isCluster === true;
}
