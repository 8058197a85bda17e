/**
 * The shared counters behind every rate limit and the per-request security checks of the
 * bearer-protected endpoints, as the HTTP layer sees them: a list of steps answered in one round
 * trip. The Redis implementation is src/redis/rateLimitStore.ts; this file also holds the
 * per-process one used with the embedded Redis stand-in (single instance).
 */
export type CheckStep = { kind: 'count'; key: string; limit: number } | { kind: 'live'; key: string };

/** The answer to one step; undefined when the script stopped before it. */
export type StepAnswer = { kind: 'count'; hits: number; resetMs: number } | { kind: 'live'; live: boolean } | undefined;

export interface SecurityCounters {
  /** Whether `live` steps may be given (false for per-process counters). */
  readonly takesLiveness: boolean;
  /** Runs the steps in one round trip; rejects when Redis cannot answer. */
  run(steps: readonly CheckStep[], windowMs: number): Promise<StepAnswer[]>;
}

/** Per-process counters (embedded mode, single instance). */
export function memoryCounters(): SecurityCounters {
  const windows = new Map<string, { hits: number; endsAt: number }>();
  let sweepAt = 0;
  return {
    takesLiveness: false,
    async run(steps, windowMs) {
      const now = Date.now();
      if (now >= sweepAt) {
        for (const [k, w] of windows) if (w.endsAt <= now) windows.delete(k);
        sweepAt = now + windowMs;
      }
      const out: StepAnswer[] = steps.map(() => undefined);
      for (let i = 0; i < steps.length; i++) {
        const step = steps[i]!;
        if (step.kind === 'live') throw new Error('per-process counters cannot answer liveness');
        let w = windows.get(step.key);
        if (!w || w.endsAt <= now) windows.set(step.key, (w = { hits: 0, endsAt: now + windowMs }));
        w.hits++;
        out[i] = { kind: 'count', hits: w.hits, resetMs: w.endsAt - now };
        if (w.hits > step.limit) break;
      }
      return out;
    },
  };
}
