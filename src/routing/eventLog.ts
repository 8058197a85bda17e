/**
 * SSE resumability (spec 2025-11-25, "Resumability and Redelivery") across instances.
 *
 * Every message that travels on a resumable stream is also appended to one Redis Stream per session
 * (`sessionEvents`): the standalone GET stream (stream id `get`) and the SSE response of each
 * POSTed request that streams (stream id `<relay instance>.<relay id>`, recorded from its first
 * intermediate message or heartbeat; a lone answer is never recorded). The SSE event id is
 * `<stream id>_<entry id>`: unique within the session, and enough for ANY instance to find the
 * stream again when a client reconnects with `Last-Event-ID` after losing its connection — for
 * instance because the instance holding it died.
 *
 * The log is bounded (approximate MAXLEN) and expires with the session; it is deleted with it.
 */
import type { Redis } from 'ioredis';
import type { Keyspace } from '../redis/keys.js';
import type { SessionRef } from './sessionStore.js';

/** Stream id of the session's standalone GET stream. */
export const GET_STREAM = 'get';
/**
 * Entries kept per session, all streams together (approximate: Redis trims whole macro-nodes).
 * Resumption is for reconnects within seconds; a client further behind than this misses the events
 * trimmed in between (a request stream whose events are all gone can no longer be resumed).
 */
export const EVENT_LOG_LENGTH = 200;

/** `open`: a request's stream became resumable; `msg`: a JSON-RPC message; `end`: it ended without one. */
export type EventKind = 'open' | 'msg' | 'end';

export interface LoggedEvent {
  /** The SSE event id (`<stream id>_<entry id>`). */
  id: string;
  kind: EventKind;
  /** The final message of its stream (the response). */
  final: boolean;
  body?: string;
}

/** `get`, or `<instance id>.<relay id>` (instance ids are checked against INSTANCE_ID in instance.ts). */
const EVENT_ID = /^(get|[A-Za-z0-9-]{1,64}\.[0-9a-z]{1,13})_(\d{1,20})-(\d{1,20})$/;

export interface ParsedEventId {
  streamId: string;
  entry: readonly [bigint, bigint];
}

/** Parses a client-supplied `Last-Event-ID`; undefined if it is not one of ours. */
export function parseEventId(value: string): ParsedEventId | undefined {
  const m = EVENT_ID.exec(value);
  if (!m) return undefined;
  return { streamId: m[1]!, entry: [BigInt(m[2]!), BigInt(m[3]!)] };
}

export function eventId(streamId: string, entryId: string): string {
  return `${streamId}_${entryId}`;
}

/**
 * The stream id of a request's SSE response: the relay instance and its relay id, which also name
 * the request's reply channel, so an instance resuming the stream can listen to it.
 */
export function requestStreamId(relayInstance: string, relayId: string): string {
  return `${relayInstance}.${relayId}`;
}

/** The relay instance and relay id a request stream id names (inverse of `requestStreamId`). */
export function relayOf(streamId: string): { relayInstance: string; relayId: string } {
  const dot = streamId.lastIndexOf('.');
  return { relayInstance: streamId.slice(0, dot), relayId: streamId.slice(dot + 1) };
}

export class EventLog {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keyspace,
    private readonly ttlMs: number,
  ) {}

  /** Appends an event and returns its SSE event id. */
  async append(ref: SessionRef, streamId: string, kind: EventKind, body?: string, final = false): Promise<string> {
    const key = this.keys.sessionEvents(ref.u, ref.sessionId);
    const fields = ['s', streamId, 't', kind, 'f', final ? '1' : '0'];
    if (body !== undefined) fields.push('m', body);
    const res = await this.redis
      .multi()
      .xadd(key, 'MAXLEN', '~', String(EVENT_LOG_LENGTH), '*', ...fields)
      .pexpire(key, this.ttlMs)
      .exec();
    const [err, entryId] = res?.[0] ?? [new Error('event log append failed')];
    if (err || typeof entryId !== 'string') throw err ?? new Error('event log append failed');
    return eventId(streamId, entryId);
  }

  /**
   * The events of one stream after a given event id, in order. `known` is false when the log holds
   * no event of that stream at all (never resumable, another session's, or expired); `ended` tells
   * whether the stream's last event (its answer, or an `end`) is logged, before or after the cursor.
   */
  async after(
    ref: SessionRef,
    from: ParsedEventId,
  ): Promise<{ known: boolean; ended: boolean; events: LoggedEvent[] }> {
    // The whole (bounded) log, filtered here: the stream's entries interleave with other streams'.
    const entries = await this.redis.xrange(this.keys.sessionEvents(ref.u, ref.sessionId), '-', '+');
    let known = false;
    let ended = false;
    const events: LoggedEvent[] = [];
    for (const [entryId, flat] of entries) {
      const f = fieldsOf(flat);
      if (f['s'] !== from.streamId) continue;
      known = true;
      const kind = f['t'];
      if (kind !== 'open' && kind !== 'msg' && kind !== 'end') continue;
      const final = f['f'] === '1';
      if (final || kind === 'end') ended = true;
      if (compareEntry(parseEntry(entryId), from.entry) <= 0) continue;
      events.push({
        id: eventId(from.streamId, entryId),
        kind,
        final,
        ...(f['m'] === undefined ? {} : { body: f['m'] }),
      });
    }
    return { known, ended, events };
  }
}

/** Orders two event ids of the same stream (false if either is not ours). */
export function isAfter(id: string, than: ParsedEventId): boolean {
  const p = parseEventId(id);
  return p !== undefined && compareEntry(p.entry, than.entry) > 0;
}

/**
 * Joins a replay and a live feed of one stream into one sequence without loss or repetition: live
 * events are held back while the log is replayed, then those the replay already sent are dropped.
 * A resuming instance subscribes first and reads the log second, so nothing published in between
 * can fall through the gap.
 */
export class ReplayGate<T> {
  private buffered: T[] | undefined = [];
  private cursor: ParsedEventId | undefined;

  constructor(
    private readonly emit: (item: T) => void,
    private readonly idOf: (item: T) => string | undefined,
  ) {}

  live(item: T): void {
    if (this.buffered) this.buffered.push(item);
    else this.pass(item);
  }

  /** Emits the replayed items, then everything held back that is newer than them. */
  release(replayed: readonly T[], from: ParsedEventId | undefined): void {
    this.cursor = from;
    for (const item of replayed) this.pass(item);
    const held = this.buffered ?? [];
    this.buffered = undefined;
    for (const item of held) this.pass(item);
  }

  private pass(item: T): void {
    const id = this.idOf(item);
    if (id !== undefined) {
      if (this.cursor && !isAfter(id, this.cursor)) return;
      this.cursor = parseEventId(id) ?? this.cursor;
    }
    this.emit(item);
  }
}

function parseEntry(entryId: string): readonly [bigint, bigint] {
  const dash = entryId.indexOf('-');
  return [BigInt(entryId.slice(0, dash)), BigInt(entryId.slice(dash + 1))];
}

function compareEntry(a: readonly [bigint, bigint], b: readonly [bigint, bigint]): number {
  if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1;
  return a[1] === b[1] ? 0 : a[1] < b[1] ? -1 : 1;
}

function fieldsOf(flat: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!;
  return out;
}
