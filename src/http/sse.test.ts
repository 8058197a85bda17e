/**
 * SseStreams' keep-alive tick: every open stream gets its comment, and the streams' own duties
 * (the GET stream's lease and touch, two Redis commands) run a batch at a time, the next batch
 * only once the previous one is answered; a tick that is still running is not started again.
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

test('keep-alive duties run a batch at a time; every stream gets its comment; ticks do not overlap', async () => {
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

  jest.advanceTimersByTime(KEEPALIVE_MS);
  await settle();
  expect(started).toBe(256);
  // Every stream of the first batch got its comment; no later one yet.
  expect(responses.filter((r) => r.written.includes(': keep-alive\n\n')).length).toBe(256);

  // The next tick comes while the first is still waiting: nothing more starts.
  jest.advanceTimersByTime(KEEPALIVE_MS);
  await settle();
  expect(started).toBe(256);

  // Answering the first batch starts the second, and so on.
  pending.splice(0).forEach((resolve) => resolve());
  await settle();
  expect(started).toBe(512);
  pending.splice(0).forEach((resolve) => resolve());
  await settle();
  expect(started).toBe(600);
  pending.splice(0).forEach((resolve) => resolve());
  await settle();
  expect(responses.every((r) => r.written.filter((w) => w === ': keep-alive\n\n').length === 1)).toBe(true);
  expect(post.written).toContain(': keep-alive\n\n');

  // Once done, the next tick runs every duty again.
  jest.advanceTimersByTime(KEEPALIVE_MS);
  await settle();
  expect(started).toBe(856);
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
