/**
 * "Resource changed" events shared by every instance: a change published anywhere reaches every
 * instance over one Redis channel, and each instance hands it to the sessions it hosts (which
 * notify their clients only for URIs they subscribed to).
 */
import type { ResourceUpdateFeed } from '../mcp/resourceUpdates.js';
import { InProcessResourceUpdateFeed } from '../mcp/resourceUpdates.js';
import type { Bus } from './bus.js';

export class RedisResourceUpdateFeed implements ResourceUpdateFeed {
  private readonly local = new InProcessResourceUpdateFeed();
  private unsubscribe: (() => Promise<void>) | undefined;

  constructor(
    private readonly bus: Bus,
    private readonly channel: string,
  ) {}

  async start(): Promise<void> {
    this.unsubscribe = await this.bus.subscribe(this.channel, (uri) => this.local.publish(uri));
  }

  onUpdated(listener: (uri: string) => void): () => void {
    return this.local.onUpdated(listener);
  }

  /** Announces a change to every instance (this one included, through Redis). */
  async publish(uri: string): Promise<void> {
    await this.bus.publish(this.channel, uri);
  }

  async stop(): Promise<void> {
    await this.unsubscribe?.();
  }
}
