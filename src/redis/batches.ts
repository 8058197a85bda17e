/**
 * Periodic Redis work over everything an instance holds (session refreshes, stream and socket
 * keep-alives) runs a bounded batch at a time: the next batch starts once every command of the
 * previous one is answered. Issued all at once, 10,000 sessions' commands, their promises and
 * buffers stay alive for the whole round trip, long enough to be promoted to V8's old generation,
 * which then grows by tens of MB per tick (docs/performance.md, "Sessions and memory").
 */

/** Items per batch; a batch's commands leave together (one write per connection). */
export const BATCH_SIZE = 256;

/**
 * Runs `work` on every item, `size` at a time. A failing item does not stop the others (one
 * failed refresh must not leave later sessions unrefreshed): once every batch has run, the first
 * failure is thrown.
 */
export async function inBatches<T>(
  items: readonly T[],
  work: (item: T) => Promise<unknown> | undefined,
  size = BATCH_SIZE,
): Promise<void> {
  let failure: { error: unknown } | undefined;
  for (let i = 0; i < items.length; i += size) {
    const pending: Array<Promise<unknown>> = [];
    for (let j = i; j < Math.min(i + size, items.length); j++) {
      const p = work(items[j]!);
      if (p) pending.push(p);
    }
    for (const outcome of await Promise.allSettled(pending))
      if (outcome.status === 'rejected') failure ??= { error: outcome.reason };
  }
  if (failure) throw failure.error;
}

/**
 * Rounds of batched periodic work (a timer's ticks): a round asked for while the previous one is
 * still running (a slow Redis) is skipped, so rounds never pile up.
 */
export class Rounds {
  private running: Promise<void> | undefined;

  /** Starts a round over `items` unless one is running. `work` must not reject (failures are its own to log). */
  start<T>(items: readonly T[], work: (item: T) => Promise<unknown> | undefined): void {
    if (this.running) return;
    this.running = inBatches(items, work)
      .catch(() => undefined)
      .finally(() => (this.running = undefined));
  }
}
