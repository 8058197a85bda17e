/**
 * SseStreams' keep-alive tick: every open stream gets its comment on every tick, whatever Redis
 * does, and the streams' own duties (the GET stream's lease and touch, two Redis commands) run a
 * batch at a time, the next batch only once the previous one is answered; a round of duties that
 * is still running is not started again.
 */
import { EventEmitter } from 'node:events';
import { jest } from '@jest/globals';
import type { Response } from 'express';
import { SseStreams } from './sse.js';

/** The part of an Express response an SSE stream uses. */
function fakeResponse(): Response & { written: string[] } {
  const res = Object.assign(new EventEmitter(), {
    written: [] as string[],
    status: () => res,
    setHeader: () => res,
    flushHeaders: () => undefined,
    write: (chunk: string) => (res.written.push(chunk), true),
    end: () => undefined,
  });
  return res as unknown as Response & { written: string[] };
}

const KEEPALIVE_MS = 1_000;
/** Lets every pending promise callback run (timers are faked, I/O is not involved). */
const settle = () => new Promise<void>((r) => setImmediate(r));

beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask', 'setImmediate'] }));
afterEach(() => jest.useRealTimers());

test('comments on every tick; duties a batch at a time, one round at a time', async () => {
  const streams = new SseStreams(KEEPALIVE_MS);
  const pending: Array<() => void> = [];
  let started = 0;
  const duty = () => {
    started++;
    return new Promise<void>((resolve) => pending.push(resolve));
  };
  const responses = Array.from({ length: 600 }, () => fakeResponse());
  for (const res of responses) streams.start(res, 'get', {}, duty);
  // A stream without a duty (a POST stream) gets the comment only.
  const post = fakeResponse();
  streams.start(post, 'post', {});
  const comments = (r: { written: string[] }) => r.written.filter((w) => w === ': keep-alive\n\n').length;

  jest.advanceTimersByTime(KEEPALIVE_MS);
  await settle();
  expect(responses.every((r) => comments(r) === 1)).toBe(true);
  expect(comments(post)).toBe(1);
  expect(started).toBe(256);

  // The next tick comes while the first batch still waits for Redis: the comments go out again,
  // no duty starts.
  jest.advanceTimersByTime(KEEPALIVE_MS);
  await settle();
  expect(responses.every((r) => comments(r) === 2)).toBe(true);
  expect(started).toBe(256);

  // Answering a batch starts the next one.
  pending.splice(0).forEach((resolve) => resolve());
  await settle();
  expect(started).toBe(512);
  pending.splice(0).forEach((resolve) => resolve());
  await settle();
  expect(started).toBe(600);
  pending.splice(0).forEach((resolve) => resolve());
  await settle();

  // Once the round is done, the next tick starts a new one.
  jest.advanceTimersByTime(KEEPALIVE_MS);
  await settle();
  expect(started).toBe(856);
  expect(comments(post)).toBe(3);
  streams.close();
});

test('a stream that ended meanwhile is skipped', async () => {
  const streams = new SseStreams(KEEPALIVE_MS);
  let duties = 0;
  const a = streams.start(fakeResponse(), 'get', {}, async () => void duties++);
  streams.start(fakeResponse(), 'get', {}, async () => void duties++);
  a.end();
  jest.advanceTimersByTime(KEEPALIVE_MS);
  await settle();
  expect(duties).toBe(1);
  expect(streams.counts().get).toBe(1);
  streams.close();
});
