/**
 * Resuming an SSE stream with `Last-Event-ID` on whichever instance the reconnecting GET reaches
 * (spec 2025-11-25, "Resumability and Redelivery"; the log itself is src/routing/eventLog.ts).
 *
 * The resuming instance first listens to the stream's live channel, then replays the logged events
 * after the client's cursor, then passes live events on: nothing published while the log is read
 * is lost, and nothing is sent twice.
 */
import type { Response } from 'express';
import { decode, ReplyHeaderSchema } from '../routing/envelope.js';
import { isAfter, parseEventId, relayOf, type LoggedEvent, type ParsedEventId } from '../routing/eventLog.js';
import type { SessionRef } from '../routing/sessionStore.js';
import { JsonRpcCode, sendJsonRpcError } from './jsonRpcError.js';
import type { SseStream } from './sse.js';
import type { StreamableHttpDeps } from './streamableHttp.js';

/** Holds live events back while the log is replayed, then drops those the replay already sent. */
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

interface StreamItem {
  kind: 'open' | 'msg' | 'end' | 'alive';
  body?: string;
  id?: string;
  final: boolean;
}

const fromLog = (e: LoggedEvent): StreamItem => ({ kind: e.kind, body: e.body, id: e.id, final: e.final });

/**
 * Resumes the SSE response of a POSTed request whose connection was lost — possibly because the
 * instance holding it is gone. The host keeps publishing the request's messages on the same reply
 * channel; this instance listens there too. Ends with the request's answer, or when the host falls
 * silent for the relay timeout (the request is no longer in flight anywhere).
 */
export async function resumeRequestStream(deps: StreamableHttpDeps, res: Response, ref: SessionRef, from: ParsedEventId): Promise<void> {
  const { routing, log } = deps;
  const { relayInstance, relayId } = relayOf(from.streamId);
  const channel = routing.keys.reply(relayInstance, relayId);
  let stream: SseStream | undefined;
  let timer: NodeJS.Timeout | undefined;
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    void unsubscribe();
    stream?.end();
  };
  const heard = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      log.debug({ session: ref.sessionId }, 'resumed stream: the request is no longer in flight');
      // Mark the stream ended (its host died, say), so the client's next reconnect is refused
      // instead of waiting out the timeout again, forever.
      routing.events
        .append(ref, from.streamId, 'end')
        .catch((err: Error) => log.debug({ err: err.message }, 'could not mark a lost stream ended'))
        .finally(finish);
    }, routing.relayTimeoutMs);
  };
  const gate = new ReplayGate<StreamItem>(
    (item) => {
      if (done || !stream) return;
      heard();
      if (item.kind === 'msg' && item.body !== undefined) stream.send(item.body, item.id);
      if (item.final || item.kind === 'end') finish();
    },
    (item) => item.id,
  );
  const unsubscribe = await routing.bus.subscribe(channel, (payload) => {
    let env;
    try {
      env = decode(ReplyHeaderSchema, payload);
    } catch {
      return;
    }
    const h = env.header;
    if (h.t === 'msg') gate.live({ kind: 'msg', body: env.body, id: h.e, final: h.f === true });
    else if (h.t === 'end') gate.live({ kind: 'end', final: true });
    else if (h.t === 'alive') gate.live({ kind: 'alive', final: false });
  });
  let logged;
  try {
    logged = await routing.events.after(ref, from);
  } catch (err) {
    await unsubscribe();
    throw err;
  }
  // A stream that ended with nothing left to deliver (answered, cancelled, or lost with its host).
  const complete = logged.ended && !logged.events.some((e) => e.kind === 'msg');
  if (!logged.known || complete) {
    await unsubscribe();
    // Not 404: that would tell the client its session is gone.
    return sendJsonRpcError(res, 400, JsonRpcCode.InvalidRequest, 'Bad Request: Last-Event-ID names no resumable stream of this session (unknown, expired or already complete)');
  }
  stream = deps.sse.start(res, 'post', { 'Mcp-Session-Id': ref.sessionId });
  res.on('close', finish);
  heard();
  gate.release(logged.events.map(fromLog), from);
  log.debug({ session: ref.sessionId, replayed: logged.events.length }, 'request stream resumed');
}
