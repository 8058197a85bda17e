/**
 * Publish/subscribe on whichever topology the instance runs on, over a fixed set of connections.
 *
 * - One Redis, or a Sentinel-managed master: classic PUBLISH/SUBSCRIBE, every subscription on one
 *   subscriber connection.
 * - Redis Cluster: sharded pub/sub (Redis 7, SPUBLISH/SSUBSCRIBE). A classic PUBLISH in a cluster is
 *   broadcast to every node over the cluster bus, so pub/sub traffic would not scale with shards; a
 *   sharded channel lives on the shard that owns its hash slot, like a key. ioredis keeps one
 *   subscriber connection per master that owns a slot we listen on (`shardedSubscribers`), so an
 *   instance holds O(shards) connections whatever the number of sessions.
 *
 * Redis forgets a connection's subscriptions when the connection drops, and in a cluster when a
 * slot moves to another node (failover, resharding). Both clients re-subscribe by themselves after
 * reconnecting; `onLost` tells the owner which channels were unheard for a while, so it can decide
 * whether a resumed subscription is still its to hold (src/routing/instance.ts releases the sessions
 * it hosted on them: another instance may have taken them over meanwhile).
 */
import calculateSlot from 'cluster-key-slot';
import type { Cluster, Redis } from 'ioredis';

/** Tells whether a channel's subscription was interrupted. */
export type LostSubscriptions = (channel: string) => boolean;

export interface PubSub {
  /** Sharded pub/sub (SPUBLISH/SSUBSCRIBE) rather than the classic commands. */
  readonly sharded: boolean;
  /** Number of subscribers that received the message (0 = nobody listens on that channel). */
  publish(channel: string, payload: string): Promise<number>;
  /** Resolves once Redis confirmed the subscription. */
  subscribe(channel: string): Promise<void>;
  unsubscribe(channel: string): Promise<void>;
  /** Subscribers of a channel across every instance (PUBSUB NUMSUB / SHARDNUMSUB). */
  receivers(channel: string): Promise<number>;
  onMessage(listener: (channel: string, payload: string) => void): void;
  onLost(listener: (isLost: LostSubscriptions) => void): void;
}

/** Classic pub/sub: publishes on the command connection, subscriptions on one subscriber connection. */
export class ClassicPubSub implements PubSub {
  readonly sharded = false;

  constructor(
    private readonly command: Redis,
    /** Exposed for tests that cut it to simulate a lost connection. */
    readonly subscriber: Redis,
  ) {}

  publish(channel: string, payload: string): Promise<number> {
    return this.command.publish(channel, payload);
  }

  async subscribe(channel: string): Promise<void> {
    await this.subscriber.subscribe(channel);
  }

  async unsubscribe(channel: string): Promise<void> {
    await this.subscriber.unsubscribe(channel);
  }

  async receivers(channel: string): Promise<number> {
    const reply = (await this.command.pubsub('NUMSUB', channel)) as [string, number | string];
    return Number(reply[1]);
  }

  onMessage(listener: (channel: string, payload: string) => void): void {
    this.subscriber.on('message', listener);
  }

  onLost(listener: (isLost: LostSubscriptions) => void): void {
    // Every subscription rides this one connection: all of them were interrupted.
    this.subscriber.on('reconnecting', () => listener(() => true));
  }
}

/**
 * Sharded pub/sub on Redis Cluster. Each channel is heard on the master owning its slot; this class
 * remembers which node that was when the subscription was made, to tell which subscriptions a
 * lost node connection or a moved slot interrupted.
 */
export class ShardedPubSub implements PubSub {
  readonly sharded = true;
  /** Channel → the node (`host:port`) that owned its slot when we subscribed. */
  private readonly owners = new Map<string, string>();
  private readonly lostListeners: Array<(isLost: LostSubscriptions) => void> = [];

  constructor(private readonly cluster: Cluster) {
    // A sharded subscriber connection ended (its node died or dropped us). ioredis emits `-node`
    // with the node key only for these; for its command connections it passes the client alone.
    cluster.on('-node', (_client: unknown, nodeKey?: string) => {
      if (typeof nodeKey !== 'string') return;
      const lost = new Set<string>();
      for (const [channel, owner] of this.owners) if (owner === nodeKey) lost.add(channel);
      this.emitLost(lost);
    });
    // The slot map was refreshed (after a failover, a MOVED, or periodically). A channel whose slot
    // changed hands was unheard between the old owner's loss and ioredis re-subscribing on the new
    // one. `refresh` fires before ioredis re-subscribes, so an owner that gives a channel up here
    // is never heard on the new node.
    cluster.on('refresh', () => {
      const lost = new Set<string>();
      for (const [channel, owner] of this.owners) {
        const now = this.ownerOf(channel);
        if (now !== undefined && now !== owner) {
          lost.add(channel);
          this.owners.set(channel, now);
        }
      }
      this.emitLost(lost);
    });
  }

  async publish(channel: string, payload: string): Promise<number> {
    return Number(await this.cluster.spublish(channel, payload));
  }

  async subscribe(channel: string): Promise<void> {
    await this.cluster.ssubscribe(channel);
    const owner = this.ownerOf(channel);
    if (owner !== undefined) this.owners.set(channel, owner);
  }

  async unsubscribe(channel: string): Promise<void> {
    this.owners.delete(channel);
    await this.cluster.sunsubscribe(channel);
  }

  async receivers(channel: string): Promise<number> {
    // PUBSUB SHARDNUMSUB answers for the node it is sent to, and names no key ioredis could route
    // by: ask every master (only the slot's owner counts any). Used on rare paths only.
    const counts = await Promise.all(
      this.cluster.nodes('master').map(async (node) => {
        const reply = (await node.call('PUBSUB', 'SHARDNUMSUB', channel)) as [string, number | string];
        return Number(reply[1]);
      }),
    );
    return counts.reduce((a, b) => a + b, 0);
  }

  onMessage(listener: (channel: string, payload: string) => void): void {
    this.cluster.on('smessage', listener);
  }

  onLost(listener: (isLost: LostSubscriptions) => void): void {
    this.lostListeners.push(listener);
  }

  private ownerOf(channel: string): string | undefined {
    return this.cluster.slots[calculateSlot(channel)]?.[0];
  }

  private emitLost(lost: ReadonlySet<string>): void {
    if (lost.size === 0) return;
    for (const l of this.lostListeners) l((channel) => lost.has(channel));
  }
}
