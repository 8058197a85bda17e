// Preloaded into the bench's instances by `src/bench/sessions.ts --gc` (node --expose-gc --import):
// on SIGUSR2, a full garbage collection, then the heap still in use is written to
// $BENCH_GC_REPORT_DIR/<pid>.json, so the bench can report retained memory beside RSS. With
// BENCH_HEAP_SNAPSHOTS=1 a heap snapshot is written there too (<pid>-<n>.heapsnapshot), for a
// profile of what the retained memory is.
import { writeFileSync } from 'node:fs';
import { writeHeapSnapshot } from 'node:v8';

let snapshots = 0;

process.on('SIGUSR2', () => {
  globalThis.gc?.();
  globalThis.gc?.();
  if (process.env.BENCH_HEAP_SNAPSHOTS === '1')
    writeHeapSnapshot(`${process.env.BENCH_GC_REPORT_DIR}/${process.pid}-${snapshots++}.heapsnapshot`);
  const m = process.memoryUsage();
  writeFileSync(
    `${process.env.BENCH_GC_REPORT_DIR}/${process.pid}.json`,
    JSON.stringify({ heapUsed: m.heapUsed, rss: m.rss, at: Date.now() }),
  );
});
