/**
 * Change events shared by every instance: the SDK's `ServerEventBus` seam (typescript-sdk
 * docs/serving/sessions-state-scaling.md, "Scale across nodes") over one Redis channel.
 *
 * An event published anywhere (the resource-change simulator, a tool that changes a list) is
 * PUBLISHed once; every instance receives it on its ONE subscription to the channel (the shared
 * subscriber connection, see bus.ts) and hands it to its local listeners: the SDK's listen router
 * (one listener per open `subscriptions/listen` stream, which does the ack, filtering and
 * subscription-id stamping) and the 2025 sessions this instance hosts. The publishing instance
 * gets its own events back through Redis like everyone else, so every listener sees every event
 * exactly once and in the channel's order. Payloads are parsed with zod: Redis is an edge.
 */
import { InMemoryServerEventBus, type ServerEvent, type ServerEventBus } from '@modelcontextprotocol/server';
import { z } from 'zod';
import type { Logger } from '../observability/logger.js';
import type { Bus } from './bus.js';

const Params = z.record(z.string(), z.unknown()).optional();
const ServerEventSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('tools_list_changed'), params: Params }),
  z.object({ kind: z.literal('prompts_list_changed'), params: Params }),
  z.object({ kind: z.literal('resources_list_changed'), params: Params }),
  z.object({ kind: z.literal('resource_updated'), uri: z.string().min(1).max(2048), params: Params }),
]);

export class RedisServerEventBus implements ServerEventBus {
  /** The SDK's own in-process fan-out to this instance's listeners. */
  private readonly local: InMemoryServerEventBus;
  private unsubscribe: (() => Promise<void>) | undefined;

  constructor(
    private readonly bus: Bus,
    private readonly channel: string,
    private readonly log: Logger,
  ) {
    this.local = new InMemoryServerEventBus((err) => log.warn({ err: err.message }, 'server event listener threw'));
  }

  /** Subscribes the instance; events published after this resolves reach its listeners. */
  async start(): Promise<void> {
    this.unsubscribe = await this.bus.subscribe(this.channel, (payload) => this.receive(payload));
  }

  async stop(): Promise<void> {
    await this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  /** Announces a change to every instance (this one included, through Redis); fire and forget. */
  publish(event: ServerEvent): void {
    this.bus.tryPublish(this.channel, JSON.stringify(event));
  }

  subscribe(listener: (event: ServerEvent) => void): () => void {
    return this.local.subscribe(listener);
  }

  private receive(payload: string): void {
    let event: ServerEvent;
    try {
      event = ServerEventSchema.parse(JSON.parse(payload));
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'malformed server event dropped');
      return;
    }
    this.local.publish(event);
  }
}
