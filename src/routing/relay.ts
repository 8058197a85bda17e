/**
 * The client-facing half of routing. An HTTP request waiting for an answer registers a sink under a
 * relay id; the host publishes to `reply(<this instance>, <relay id>)`, which arrives on this
 * instance's one reply channel (no SUBSCRIBE round trip per request; see bus.ts).
 *
 * A relay that hears nothing from the host for `timeoutMs` (no message, no heartbeat) gives up, so a
 * request to a session whose host died or hung is answered within a bounded time.
 */
import type { Logger } from '../observability/logger.js';
import type { Keyspace } from '../redis/keys.js';
import type { Bus } from './bus.js';
import { decodeOrDrop, ReplyHeaderSchema, type ReplyHeader } from './envelope.js';

export interface ReplySink {
  /** A reply arrived; `body` is the raw JSON-RPC message for `msg` replies. */
  onReply(header: ReplyHeader, body: string | undefined): void;
  /** The host went quiet for longer than the relay timeout. */
  onTimeout(): void;
}

interface Pending {
  sink: ReplySink;
  opened: number;
  lastSeen: number;
  replied: boolean;
}

export class Relay {
  private readonly pending = new Map<string, Pending>();
  private counter = 0;
  private stopListening: (() => Promise<void>) | undefined;

  constructor(
    private readonly bus: Bus,
    private readonly keys: Keyspace,
    private readonly instanceId: string,
    private readonly log: Logger,
    private readonly timeoutMs: number,
    /** Observes the time from opening a relay to its first reply (metrics). */
    private readonly onFirstReply?: (ms: number) => void,
  ) {}

  async start(): Promise<void> {
    this.stopListening = await this.bus.listen(this.keys.replyChannel(this.instanceId), (relayId, payload) =>
      this.onMessage(relayId, payload),
    );
  }

  async stop(): Promise<void> {
    await this.stopListening?.();
    this.stopListening = undefined;
  }

  /** Registers a sink; the returned relay id goes into the envelope as `reply`. */
  open(sink: ReplySink): string {
    const id = (this.counter++).toString(36);
    const now = Date.now();
    this.pending.set(id, { sink, opened: now, lastSeen: now, replied: false });
    return id;
  }

  release(relayId: string): void {
    this.pending.delete(relayId);
  }

  get size(): number {
    return this.pending.size;
  }

  /** Times out relays whose host has been silent too long. Driven by the instance's sweep timer. */
  sweep(now: number): void {
    for (const [id, p] of this.pending) {
      if (now - p.lastSeen > this.timeoutMs) {
        this.pending.delete(id);
        p.sink.onTimeout();
      }
    }
  }

  private onMessage(relayId: string, payload: string): void {
    const p = this.pending.get(relayId);
    if (!p) {
      // The client went away (or the relay timed out) before the host answered.
      this.log.debug({ relayId }, 'late reply for a finished relay dropped');
      return;
    }
    const env = decodeOrDrop(ReplyHeaderSchema, payload, this.log, 'reply');
    if (!env) return;
    p.lastSeen = Date.now();
    if (!p.replied) {
      p.replied = true;
      this.onFirstReply?.(p.lastSeen - p.opened);
    }
    const { header, body } = env;
    const final =
      header.type !== 'msg' && header.type !== 'alive' ? true : header.type === 'msg' && header.final === true;
    if (final) this.pending.delete(relayId);
    p.sink.onReply(header, body);
  }
}
