/**
 * Server-Sent Event streams of this instance. One timer (not one per stream) writes keep-alive
 * comments to every open stream so idle proxies do not cut them (≤ 15 s), and runs each stream's
 * own keep-alive duty (the GET stream refreshes its lock and keeps its session alive). The duties
 * run a batch of streams at a time (redis/batches.ts): 10,000 GET streams are 20,000 Redis
 * commands per tick.
 */
import type { Response } from 'express';
import { Rounds } from '../redis/batches.js';

/** Which endpoint a stream answers: a POSTed request, the standalone GET, or the legacy /sse. */
export type StreamKind = 'get' | 'post' | 'legacy_sse';

export class SseStream {
  private ended = false;
  constructor(
    private readonly res: Response,
    private readonly registry: SseStreams,
    readonly kind: StreamKind,
    readonly onKeepAlive?: () => Promise<void>,
  ) {}

  /**
   * Writes one JSON-RPC message (already serialised, no newlines) as an SSE `message` event, with
   * its event id when the stream is resumable.
   */
  send(rawJson: string, id?: string): void {
    if (this.ended) return;
    this.res.write(
      id === undefined ? `event: message\ndata: ${rawJson}\n\n` : `id: ${id}\nevent: message\ndata: ${rawJson}\n\n`,
    );
  }

  /** Tells the client how long to wait before reconnecting (SSE `retry` field). */
  retry(ms: number): void {
    if (!this.ended) this.res.write(`retry: ${ms}\n\n`);
  }

  /**
   * The priming event (spec 2025-11-25): an event id with empty data, so a client that loses the
   * stream before the first message can still resume it with Last-Event-ID.
   */
  prime(id: string): void {
    if (!this.ended) this.res.write(`id: ${id}\ndata: \n\n`);
  }

  /** Writes a named event (the legacy transport's `endpoint` announcement); `data` has no newlines. */
  event(name: string, data: string): void {
    if (!this.ended) this.res.write(`event: ${name}\ndata: ${data}\n\n`);
  }

  comment(text: string): void {
    if (!this.ended) this.res.write(`: ${text}\n\n`);
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.registry.forget(this);
    this.res.end();
  }

  get isEnded(): boolean {
    return this.ended;
  }

  /** The connection went away underneath us. */
  markClosed(): void {
    this.ended = true;
    this.registry.forget(this);
  }
}

export class SseStreams {
  private readonly open = new Set<SseStream>();
  private readonly timer: NodeJS.Timeout;
  private readonly duties = new Rounds();

  constructor(keepAliveMs: number) {
    this.timer = setInterval(() => this.tick(), keepAliveMs);
    this.timer.unref();
  }

  /** Writes the SSE response head and registers the stream. */
  start(
    res: Response,
    kind: StreamKind,
    headers: Record<string, string>,
    onKeepAlive?: () => Promise<void>,
  ): SseStream {
    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream');
    res.setHeader('Cache-Control', 'no-cache, no-transform');
    res.setHeader('Connection', 'keep-alive');
    // nginx and similar proxies must not buffer the stream.
    res.setHeader('X-Accel-Buffering', 'no');
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    res.flushHeaders();
    const stream = new SseStream(res, this, kind, onKeepAlive);
    this.open.add(stream);
    res.on('close', () => stream.markClosed());
    return stream;
  }

  forget(stream: SseStream): void {
    this.open.delete(stream);
  }

  /** Open streams by kind (read by the metrics at scrape time). */
  counts(): Record<StreamKind, number> {
    const c: Record<StreamKind, number> = { get: 0, post: 0, legacy_sse: 0 };
    for (const s of this.open) c[s.kind]++;
    return c;
  }

  /** Ends the open streams of the given kinds (all by default). */
  endAll(kinds: readonly StreamKind[] = ['get', 'post', 'legacy_sse']): void {
    for (const s of [...this.open]) if (kinds.includes(s.kind)) s.end();
  }

  close(): void {
    clearInterval(this.timer);
  }

  private tick(): void {
    const streams = [...this.open];
    // The comments go out on every tick, whatever Redis does: they are what keeps proxies from
    // cutting idle streams.
    for (const s of streams) s.comment('keep-alive');
    // The streams' Redis duties, one round at a time (a slow Redis does not pile rounds up).
    this.duties.start(streams, (s) => (s.isEnded ? undefined : s.onKeepAlive?.()));
  }
}
