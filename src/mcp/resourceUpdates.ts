/**
 * The demo's "a resource changed" events. Changes travel on the process-wide change bus
 * (`McpServerContext.events`: in the HTTP deployment a Redis channel every instance listens to;
 * in stdio and tests the SDK's in-process bus). 2025 sessions notify their client only for URIs
 * it subscribed to (2025-11-25 server/resources §Subscriptions); 2026-07-28 clients get them on
 * `subscriptions/listen` streams that name the URI.
 */
import { staticResourceUri, STATIC_RESOURCE_COUNT } from './resources/catalog.js';

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
