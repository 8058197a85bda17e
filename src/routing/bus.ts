/**
 * The pub/sub multiplexer: every subscription of this instance rides ONE subscriber connection,
 * and every publish goes through the shared command connection. Redis connections stay
 * O(instances), whatever the number of sessions, streams or requests.
 */
import type { Redis } from 'ioredis';
import type { Logger } from '../observability/logger.js';

export type ChannelHandler = (payload: string) => void;
export type PatternHandler = (channel: string, payload: string) => void;

export class Bus {
  private readonly channels = new Map<string, Set<ChannelHandler>>();
  private readonly patterns = new Map<string, PatternHandler>();

  constructor(
    private readonly command: Redis,
    private readonly subscriber: Redis,
    private readonly log: Logger,
  ) {
    subscriber.on('message', (channel: string, payload: string) => {
      const handlers = this.channels.get(channel);
      if (!handlers) return;
      for (const h of handlers) this.dispatch(() => h(payload), channel);
    });
    subscriber.on('pmessage', (pattern: string, channel: string, payload: string) => {
      const h = this.patterns.get(pattern);
      if (h) this.dispatch(() => h(channel, payload), channel);
    });
  }

  /**
   * Number of subscribers that received the message (0 = nobody listens on that channel). The
   * command connection batches the publishes of one event-loop turn (src/redis/corkingRedis.ts).
   */
  publish(channel: string, payload: string): Promise<number> {
    return this.command.publish(channel, payload);
  }

  /** A fire-and-forget publish (refusals, confirmations, touches): a Redis failure is logged, never unhandled. */
  tryPublish(channel: string, payload: string): void {
    this.command.publish(channel, payload).catch((err: Error) => this.log.debug({ err: err.message, channel }, 'publish failed'));
  }

  /** Number of subscribers of a channel across every instance (PUBSUB NUMSUB). */
  async subscriberCount(channel: string): Promise<number> {
    const reply = (await this.command.pubsub('NUMSUB', channel)) as [string, number | string];
    return Number(reply[1]);
  }

  /**
   * Adds a handler for a channel; resolves once Redis confirmed the subscription, so a publish
   * made after that is guaranteed to reach it. Returns the function that removes the handler.
   */
  async subscribe(channel: string, handler: ChannelHandler): Promise<() => Promise<void>> {
    let set = this.channels.get(channel);
    const first = !set;
    if (!set) {
      set = new Set();
      this.channels.set(channel, set);
    }
    set.add(handler);
    if (first) {
      try {
        await this.subscriber.subscribe(channel);
      } catch (err) {
        set.delete(handler);
        if (set.size === 0) this.channels.delete(channel);
        throw err;
      }
    }
    let removed = false;
    return async () => {
      if (removed) return;
      removed = true;
      const current = this.channels.get(channel);
      if (!current) return;
      current.delete(handler);
      if (current.size === 0) {
        this.channels.delete(channel);
        await this.subscriber.unsubscribe(channel).catch((err: Error) => {
          this.log.debug({ err: err.message, channel }, 'unsubscribe failed');
        });
      }
    };
  }

  async psubscribe(pattern: string, handler: PatternHandler): Promise<void> {
    this.patterns.set(pattern, handler);
    await this.subscriber.psubscribe(pattern);
  }

  async punsubscribe(pattern: string): Promise<void> {
    this.patterns.delete(pattern);
    await this.subscriber.punsubscribe(pattern).catch(() => undefined);
  }

  /** Number of distinct channels this instance listens on (for metrics and leak tests). */
  get channelCount(): number {
    return this.channels.size;
  }

  private dispatch(fn: () => void, channel: string): void {
    try {
      fn();
    } catch (err) {
      // A faulty handler must not take down the shared subscriber loop for every other session.
      this.log.error({ err, channel }, 'bus handler threw');
    }
  }
}
