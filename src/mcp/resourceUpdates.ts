/**
 * "A resource changed" events, decoupled from sessions: the HTTP deployment backs the feed with a
 * Redis channel that fans out to every instance; stdio and tests use the in-process feed. Each
 * session listens and sends `notifications/resources/updated` only for URIs it subscribed to
 * (MCP 2025-11-25 server/resources §Subscriptions).
 */
import { staticResourceUri, STATIC_RESOURCE_COUNT } from './resources/catalog.js';

export interface ResourceUpdateFeed {
  /** Calls `listener` with the URI of each changed resource; returns the unsubscribe function. */
  onUpdated(listener: (uri: string) => void): () => void;
}

export class InProcessResourceUpdateFeed implements ResourceUpdateFeed {
  private readonly listeners = new Set<(uri: string) => void>();

  onUpdated(listener: (uri: string) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  publish(uri: string): void {
    for (const listener of this.listeners) listener(uri);
  }

  get listenerCount(): number {
    return this.listeners.size;
  }
}

/**
 * Pretends the static resources change: every `intervalMs` the next one (round robin over
 * test://static/resource/1..100) is published as updated. Returns the stop function; an interval
 * ≤ 0 starts nothing.
 */
export function startResourceChangeSimulator(publish: (uri: string) => void, intervalMs: number): () => void {
  if (intervalMs <= 0) return () => {};
  let next = 0;
  const timer = setInterval(() => {
    publish(staticResourceUri((next++ % STATIC_RESOURCE_COUNT) + 1));
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
