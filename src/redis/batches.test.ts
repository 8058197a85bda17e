/**
 * inBatches: every item, `size` at a time, the next batch only once the previous one is answered,
 * failures collected rather than stopping the rest.
 * Rounds: a round asked for while one runs is skipped; a failed round does not block the next.
 */
import { inBatches, Rounds } from './batches.js';

/** A promise and its resolve function. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}
const settle = () => new Promise<void>((r) => setImmediate(r));

test('inBatches runs every item once, a batch at a time, waiting for each batch', async () => {
  const started: number[] = [];
  const waits: Array<() => void> = [];
  const done = inBatches(
    Array.from({ length: 7 }, (_, i) => i),
    (i) => {
      started.push(i);
      if (i === 5) return undefined; // work with nothing to wait for
      const d = deferred();
      waits.push(d.resolve);
      return d.promise;
    },
    3,
  );
  await settle();
  expect(started).toEqual([0, 1, 2]);
  waits.splice(0, 2).forEach((r) => r());
  await settle();
  // One of the batch still pending: the next batch waits.
  expect(started).toEqual([0, 1, 2]);
  waits.splice(0).forEach((r) => r());
  await settle();
  expect(started).toEqual([0, 1, 2, 3, 4, 5]);
  waits.splice(0).forEach((r) => r());
  await settle();
  expect(started).toEqual([0, 1, 2, 3, 4, 5, 6]);
  waits.splice(0).forEach((r) => r());
  await expect(done).resolves.toBeUndefined();
  await expect(inBatches([], () => Promise.resolve())).resolves.toBeUndefined();
});

test('inBatches runs every batch despite a failure, then rejects with the first error', async () => {
  const started: number[] = [];
  const run = inBatches(
    [0, 1, 2, 3, 4],
    (i) => (started.push(i), i % 2 === 1 ? Promise.reject(new Error(`boom ${i}`)) : Promise.resolve()),
    2,
  );
  await expect(run).rejects.toThrow('boom 1');
  expect(started).toEqual([0, 1, 2, 3, 4]);
});

test('Rounds: a round asked for while one runs is skipped; the next after it starts; a failure does not stick', async () => {
  const rounds = new Rounds();
  let runs = 0;
  const gate = deferred();
  rounds.start([1, 2], () => (runs++, gate.promise));
  rounds.start([1, 2], () => (runs++, Promise.resolve()));
  expect(runs).toBe(2);
  gate.resolve();
  await settle();
  // A round whose work rejects (against the contract) ends all the same.
  rounds.start([1], () => (runs++, Promise.reject(new Error('late'))));
  await settle();
  rounds.start([1, 2, 3], () => (runs++, Promise.resolve()));
  await settle();
  expect(runs).toBe(6);
});
