/**
 * The pub/sub multiplexer: every subscription of this instance rides the connections of one
 * `PubSub` (src/redis/pubsub.ts: one subscriber connection, or one per shard in Redis Cluster), and
 * every publish goes through the shared command connection. Redis connections stay O(instances),
 * or O(instances × shards), whatever the number of sessions, streams or requests.
 *
 * Reply addresses (`keys.reply(instance, relayId)`) are not channels of their own: each instance
 * has ONE reply channel, and the relay id travels as the first line of the payload. A request
 * therefore costs no SUBSCRIBE round trip, and this works with sharded pub/sub, which has no
 * pattern subscriptions. Publishing to, or subscribing to, an address works like a channel.
 */
import type { Logger } from '../observability/logger.js';
import type { Keyspace } from '../redis/keys.js';
import type { LostSubscriptions, PubSub } from '../redis/pubsub.js';

export type ChannelHandler = (payload: string) => void;
/** Every message on a reply channel, with the relay id it is addressed to. */
export type ReplyListener = (relayId: string, payload: string) => void;

/** What listens on one Redis channel of this instance. */
interface Subscription {
  /** A reply channel: every payload starts with the relay id it is addressed to. */
  reply: boolean;
  handlers: Set<ChannelHandler>;
  /** Reply channels only: handlers of single addresses, by relay id. */
  addressed: Map<string, Set<ChannelHandler>>;
  listener?: ReplyListener;
  /** Resolves once Redis confirmed the subscription. */
  ready: Promise<void>;
}

export class Bus {
  private readonly subs = new Map<string, Subscription>();

  constructor(
    private readonly pubsub: PubSub,
    private readonly keys: Keyspace,
    private readonly log: Logger,
  ) {
    pubsub.onMessage((channel, payload) => this.onMessage(channel, payload));
  }

  /**
   * Number of subscribers that received the message (0 = nobody listens on that channel). The
   * command connection batches the publishes of one event-loop turn (src/redis/corkingRedis.ts).
   */
  publish(channel: string, payload: string): Promise<number> {
    const address = this.keys.replyAddress(channel);
    if (address) return this.pubsub.publish(address.channel, `${address.relayId}\n${payload}`);
    return this.pubsub.publish(channel, payload);
  }

  /** A fire-and-forget publish (refusals, confirmations, touches): a Redis failure is logged, never unhandled. */
  tryPublish(channel: string, payload: string): void {
    this.publish(channel, payload).catch((err: Error) =>
      this.log.debug({ err: err.message, channel }, 'publish failed'),
    );
  }

  /** Number of subscribers of a channel across every instance. */
  subscriberCount(channel: string): Promise<number> {
    return this.pubsub.receivers(channel);
  }

  /**
   * Adds a handler for a channel or a reply address; resolves once Redis confirmed the
   * subscription, so a publish made after that is guaranteed to reach it. Returns the function
   * that removes the handler.
   */
  async subscribe(channel: string, handler: ChannelHandler): Promise<() => Promise<void>> {
    const address = this.keys.replyAddress(channel);
    const physical = address?.channel ?? channel;
    const sub = this.acquire(physical, address !== undefined);
    let set: Set<ChannelHandler>;
    if (address) {
      set = sub.addressed.get(address.relayId) ?? new Set();
      sub.addressed.set(address.relayId, set);
    } else {
      set = sub.handlers;
    }
    set.add(handler);
    const remove = () => {
      set.delete(handler);
      if (address && set.size === 0) sub.addressed.delete(address.relayId);
      return this.releaseIfUnused(physical, sub);
    };
    try {
      await sub.ready;
    } catch (err) {
      await remove();
      throw err;
    }
    let removed = false;
    return async () => {
      if (removed) return;
      removed = true;
      await remove();
    };
  }

  /**
   * Listens to every message on a reply channel (the relay's one subscription for all the requests
   * its instance holds). Returns the function that stops listening.
   */
  async listen(replyChannel: string, listener: ReplyListener): Promise<() => Promise<void>> {
    const sub = this.acquire(replyChannel, true);
    sub.listener = listener;
    const remove = () => {
      if (sub.listener === listener) delete sub.listener;
      return this.releaseIfUnused(replyChannel, sub);
    };
    try {
      await sub.ready;
    } catch (err) {
      await remove();
      throw err;
    }
    return remove;
  }

  /**
   * Called with the channels whose subscription Redis dropped for a while (a lost connection, a
   * failover). They are subscribed again by the client; what was published meanwhile is gone.
   */
  onLost(listener: (isLost: LostSubscriptions) => void): void {
    this.pubsub.onLost(listener);
  }

  /** Number of distinct channels this instance listens on (for metrics and leak tests). */
  get channelCount(): number {
    return this.subs.size;
  }

  private acquire(channel: string, reply: boolean): Subscription {
    let sub = this.subs.get(channel);
    if (!sub) {
      const created: Subscription = {
        reply,
        handlers: new Set(),
        addressed: new Map(),
        ready: this.pubsub.subscribe(channel),
      };
      // A failed subscription is reported to whoever awaits `ready`; forget it so the next try subscribes again.
      created.ready.catch(() => {
        if (this.subs.get(channel) === created) this.subs.delete(channel);
      });
      this.subs.set(channel, created);
      sub = created;
    }
    return sub;
  }

  private async releaseIfUnused(channel: string, sub: Subscription): Promise<void> {
    if (sub.handlers.size > 0 || sub.addressed.size > 0 || sub.listener) return;
    if (this.subs.get(channel) !== sub) return;
    this.subs.delete(channel);
    await this.pubsub
      .unsubscribe(channel)
      .catch((err: Error) => this.log.debug({ err: err.message, channel }, 'unsubscribe failed'));
  }

  private onMessage(channel: string, payload: string): void {
    const sub = this.subs.get(channel);
    if (!sub) {
      // A subscription Redis restored that nobody here holds any more (given up while the
      // connection was down): a receiver that never answers would keep other instances from
      // taking the channel's session over, so drop it.
      this.log.debug({ channel }, 'message on a channel nobody holds: unsubscribing');
      this.pubsub.unsubscribe(channel).catch(() => undefined);
      return;
    }
    if (!sub.reply) {
      for (const h of sub.handlers) this.dispatch(h, payload, channel);
      return;
    }
    const nl = payload.indexOf('\n');
    if (nl === -1) return;
    const relayId = payload.slice(0, nl);
    const body = payload.slice(nl + 1);
    if (sub.listener) this.dispatchReply(sub.listener, relayId, body, channel);
    const handlers = sub.addressed.get(relayId);
    if (handlers) for (const h of handlers) this.dispatch(h, body, channel);
  }

  private dispatch(handler: ChannelHandler, payload: string, channel: string): void {
    try {
      handler(payload);
    } catch (err) {
      // A faulty handler must not take down the shared subscriber loop for every other session.
      this.log.error({ err, channel }, 'bus handler threw');
    }
  }

  private dispatchReply(listener: ReplyListener, relayId: string, payload: string, channel: string): void {
    try {
      listener(relayId, payload);
    } catch (err) {
      this.log.error({ err, channel }, 'bus handler threw');
    }
  }
}
