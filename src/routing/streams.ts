/**
 * The mesh as the client-facing transports see it (src/http/: Streamable HTTP on /mcp, the legacy
 * /sse stream, WebSockets on /ws, the session admin). They deal in sessions, messages and sinks;
 * everything that touches Redis (channels, envelopes, the GET-stream lease, the event log, the
 * relay's reply addresses) happens here, so src/http/ speaks HTTP only.
 *
 *   - `request`: a client request; its replies (related messages, the answer) reach a `ReplySink`;
 *   - `send`, `touch`: one-way messages (notifications, the client's answers, keep-alives);
 *   - `listenOutbound`: a session's outbound channel (the legacy stream, a WebSocket) → `EventSink`;
 *   - `claimGetStream`: the one standalone GET stream of a session (a lease, taken over from a dead
 *     holder), optionally resumed from `Last-Event-ID` → `EventSink`;
 *   - `resumeRequestStream`: a POST's SSE stream resumed on any instance → `EventSink`;
 *   - `listSessions`: what `/sessions` shows.
 */
import type { Logger } from '../observability/logger.js';
import { sessionOwnerKey } from '../redis/keys.js';
import { decodeOrDrop, encode, OutboundHeaderSchema, ReplyHeaderSchema, type Caller } from './envelope.js';
import {
  eventId,
  GET_STREAM,
  parseEventId,
  ReplayGate,
  relayOf,
  requestStreamId,
  type LoggedEvent,
  type ParsedEventId,
} from './eventLog.js';
import type { CreateSessionOptions, DeliveryResult, EndSessionResult, RoutingInstance } from './instance.js';
import type { ReplySink } from './relay.js';
import type { SessionRef } from './sessionStore.js';

export { isRedisUnavailable as isMeshUnavailable } from '../redis/errors.js';
export type { Caller, ReplyHeader } from './envelope.js';
export {
  SessionLimitError,
  type CreateSessionOptions,
  type DeliveryResult,
  type EndSessionResult,
} from './instance.js';
export type { ReplySink, SessionRef };

/** Who sends a message: the verified caller, and the HTTP request it arrived in (log correlation). */
export interface Sender {
  caller: Caller;
  httpRequestId?: string;
}

/** What the client of a long-lived stream (SSE, WebSocket) receives from the session. */
export interface EventSink {
  /** One JSON-RPC message as its sender wrote it; `eventId` when the stream is resumable. */
  message(body: string, eventId: string | undefined): void;
  /** The stream is over: the session ended or, for a resumed request stream, the request did. */
  end(): void;
}

/** A client request on its way to the session's host. */
export interface OpenRequest {
  /** Settles once the host has the message. Anything but `delivered`: no reply will come. */
  readonly delivery: Promise<DeliveryResult>;
  /** The cursor before the first logged event of the request's stream (the SSE priming event). */
  readonly primingEventId: string;
  /** Stops listening (the client went away, which is no cancellation): a late answer is dropped. */
  cancel(): void;
}

/** Where a client's `Last-Event-ID` points: the session's GET stream or a request's stream. */
export interface StreamCursor {
  readonly stream: 'get' | 'request';
  readonly position: ParsedEventId;
}

/** The session's standalone GET stream, held by this instance. */
export interface GetStream {
  /** Starts delivering: first what was missed after `from` (a resumed stream), then live messages. */
  start(from: StreamCursor | undefined, sink: EventSink): Promise<void>;
  /**
   * Extends the lease and keeps the session from idling out (each SSE keep-alive). Resolves once
   * both Redis commands have been answered; never rejects.
   */
  keepAlive(): Promise<void>;
  /** Stops listening and releases the lease (resolves once released; never rejects). Idempotent. */
  close(): Promise<void>;
}

/** A request's SSE stream, found again in the log; ready to replay and go on live. */
export interface ResumedStream {
  start(sink: EventSink): void;
  close(): void;
}

export type SessionTransport = 'streamable-http' | 'sse' | 'websocket';

/** One of a user's live sessions (times in epoch ms). */
export interface SessionInfo {
  id: string;
  transport: SessionTransport;
  created: number;
  lastActivity: number;
  /** The instance hosting the session's McpServer. */
  host: string;
  protocolVersion?: string;
}

export interface SessionStreamsOptions {
  /** Ends a GET stream's lease if its holder dies without releasing it. */
  getStreamLeaseMs?: number;
}

/** The session of that id owned by that user through that OAuth client (its Redis names embed both). */
export function ownedSession(userId: string, clientId: string, sessionId: string): SessionRef {
  return { u: sessionOwnerKey(userId, clientId), sessionId };
}

/** Parses a client-supplied `Last-Event-ID`; undefined if this server never issued it. */
export function parseLastEventId(value: string): StreamCursor | undefined {
  const position = parseEventId(value);
  if (!position) return undefined;
  return { stream: position.streamId === GET_STREAM ? 'get' : 'request', position };
}

export class SessionStreams {
  private readonly getStreamLeaseMs: number;

  constructor(
    private readonly routing: RoutingInstance,
    private readonly log: Logger,
    opts: SessionStreamsOptions = {},
  ) {
    this.getStreamLeaseMs = opts.getStreamLeaseMs ?? 45_000;
  }

  /** Creates a session hosted here (see RoutingInstance.createSession); SessionLimitError at the cap. */
  createSession(caller: Caller, initRequest: string | undefined, opts?: CreateSessionOptions): Promise<SessionRef> {
    return this.routing.createSession(caller, initRequest, opts);
  }

  exists(ref: SessionRef): Promise<boolean> {
    return this.routing.sessionExists(ref);
  }

  /** Ends a session for good, wherever it is hosted. */
  end(ref: SessionRef): Promise<EndSessionResult> {
    return this.routing.endSession(ref);
  }

  /** A client request: `sink` hears its replies until the answer, an error, a timeout or `cancel`. */
  request(ref: SessionRef, body: string, from: Sender & { resumable?: boolean }, sink: ReplySink): OpenRequest {
    const { routing } = this;
    const relayId = routing.relay.open(sink);
    const release = () => routing.relay.release(relayId);
    const payload = encode(
      // `resumable` is left out unless set: the host logs only streams a client can resume.
      {
        type: 'msg',
        relayInstance: routing.instanceId,
        relayId,
        httpRequestId: from.httpRequestId,
        caller: from.caller,
        resumable: from.resumable === true ? true : undefined,
      },
      body,
    );
    const delivery = routing.deliver(ref, payload).then(
      (result) => {
        if (result !== 'delivered') release();
        return result;
      },
      (err: unknown) => {
        release();
        throw err;
      },
    );
    return {
      delivery,
      get primingEventId() {
        return eventId(requestStreamId(routing.instanceId, relayId), '0-0');
      },
      cancel: release,
    };
  }

  /** A notification or a response from the client: nothing comes back. */
  send(ref: SessionRef, body: string, from: Sender): Promise<DeliveryResult> {
    return this.routing.deliver(
      ref,
      encode(
        { type: 'msg', relayInstance: this.routing.instanceId, httpRequestId: from.httpRequestId, caller: from.caller },
        body,
      ),
    );
  }

  /** The client is still there (a long-lived connection's keep-alive); a dead host is replaced now. */
  touch(ref: SessionRef): Promise<DeliveryResult> {
    return this.routing.deliver(ref, encode({ type: 'touch' }));
  }

  /**
   * Everything the host sends on the session's outbound channel: server messages unrelated to a
   * request (every message, for a legacy session) and the session's end. Resolves once Redis
   * confirmed the subscription; returns the function that stops listening.
   */
  listenOutbound(ref: SessionRef, sink: EventSink): Promise<() => Promise<void>> {
    const { routing } = this;
    return routing.bus.subscribe(routing.keys.sessionOutbound(ref.u, ref.sessionId), (payload) => {
      const env = decodeOrDrop(OutboundHeaderSchema, payload, this.log, 'outbound');
      if (!env) return;
      // `closed`: the session ended (DELETE elsewhere, idle expiry).
      if (env.header.type === 'closed') sink.end();
      else if (env.body !== undefined) sink.message(env.body, env.header.eventId);
    });
  }

  /**
   * Takes the session's one standalone GET stream (spec: each message goes on exactly one stream),
   * or undefined while another live instance holds it. A holder whose instance died cannot release
   * its lease: it is taken over instead of waited out.
   */
  async claimGetStream(ref: SessionRef): Promise<GetStream | undefined> {
    const { routing } = this;
    const key = routing.keys.sessionGetStream(ref.u, ref.sessionId);
    const token = `${routing.instanceId}:${Math.random().toString(36).slice(2)}`;
    const leaseMs = this.getStreamLeaseMs;
    if (!(await routing.store.acquireLock(key, token, leaseMs))) {
      const holder = await routing.store.lockHolder(key);
      const dead = holder !== null && !(await routing.isAlive(holder.split(':')[0]!));
      if (!dead || !(await routing.store.replaceLock(key, holder, token, leaseMs))) return undefined;
    }

    const inbound = routing.keys.sessionInbound(ref.u, ref.sessionId);
    let unsubscribe: (() => Promise<void>) | undefined;
    let closed: Promise<void> | undefined;
    return {
      start: async (from, sink) => {
        const gate = new ReplayGate<{ body: string; id: string | undefined }>(
          (m) => sink.message(m.body, m.id),
          (m) => m.id,
        );
        const stop = await this.listenOutbound(ref, {
          message: (body, id) => gate.live({ body, id }),
          end: () => sink.end(),
        });
        if (closed) return void stop();
        unsubscribe = stop;
        // A resumed GET stream first replays the notifications logged after the client's cursor.
        let missed: LoggedEvent[] = [];
        if (from) {
          try {
            missed = (await routing.events.after(ref, from.position)).events;
          } catch (err) {
            // The stream is already open: carry on live rather than fail it.
            this.log.warn(
              { err: (err as Error).message, session: ref.sessionId },
              'event log unreadable: GET stream resumed without replay',
            );
          }
        }
        gate.release(
          missed.flatMap((e) => (e.kind === 'msg' && e.body !== undefined ? [{ body: e.body, id: e.id }] : [])),
          from?.position,
        );
        this.log.debug(
          { session: ref.sessionId, resumed: from !== undefined, replayed: missed.length },
          'GET stream opened',
        );
      },
      keepAlive: async () => {
        await Promise.all([
          routing.store.extendLock(key, token, leaseMs).catch(() => undefined),
          routing.bus
            .publish(inbound, encode({ type: 'touch' }))
            .catch((err: Error) => this.log.debug({ err: err.message, session: ref.sessionId }, 'touch not sent')),
        ]);
      },
      close: () => {
        closed ??= Promise.all([
          unsubscribe?.(),
          // A lease that cannot be released now expires on its own.
          routing.store.releaseLock(key, token).catch(() => undefined),
        ]).then(() => undefined);
        return closed;
      },
    };
  }

  /**
   * Finds a POSTed request's SSE stream again (spec 2025-11-25, "Resumability and Redelivery"),
   * whichever instance held it, possibly a dead one: undefined when the log knows no such stream
   * of this session, or the stream is complete. The host keeps publishing the request's messages
   * on the same reply address; this instance listens there first, then reads the log, so nothing
   * is lost in between and nothing is sent twice (ReplayGate). The stream ends with the request's
   * answer, or when the host falls silent for the relay timeout (the request is no longer in
   * flight anywhere).
   */
  async resumeRequestStream(ref: SessionRef, cursor: StreamCursor): Promise<ResumedStream | undefined> {
    const { routing, log } = this;
    const from = cursor.position;
    const { relayInstance, relayId } = relayOf(from.streamId);
    let sink: EventSink | undefined;
    let timer: NodeJS.Timeout | undefined;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      void unsubscribe();
      sink?.end();
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
        if (done || !sink) return;
        heard();
        if (item.kind === 'msg' && item.body !== undefined) sink.message(item.body, item.id);
        if (item.final || item.kind === 'end') finish();
      },
      (item) => item.id,
    );
    const unsubscribe = await routing.bus.subscribe(routing.keys.reply(relayInstance, relayId), (payload) => {
      const env = decodeOrDrop(ReplyHeaderSchema, payload, log, 'reply');
      if (!env) return;
      const h = env.header;
      if (h.type === 'msg') gate.live({ kind: 'msg', body: env.body, id: h.eventId, final: h.final === true });
      else if (h.type === 'end') gate.live({ kind: 'end', final: true });
      else if (h.type === 'alive') gate.live({ kind: 'alive', final: false });
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
      return undefined;
    }
    const events = logged.events;
    return {
      start: (s) => {
        sink = s;
        heard();
        gate.release(events.map(fromLog), from);
        log.debug({ session: ref.sessionId, replayed: events.length }, 'request stream resumed');
      },
      close: finish,
    };
  }

  /** The caller's live sessions, least recently used first. */
  async listSessions(userId: string, clientId: string): Promise<SessionInfo[]> {
    const u = sessionOwnerKey(userId, clientId);
    const { store } = this.routing;
    const ids = await store.listForUser(u);
    const metas = await Promise.all(ids.map((sessionId) => store.load({ u, sessionId })));
    const sessions: SessionInfo[] = [];
    ids.forEach((id, i) => {
      const meta = metas[i];
      // An id whose record is gone ended between the two reads.
      if (!meta) return;
      const info: SessionInfo = {
        id,
        transport: meta.ws !== undefined ? 'websocket' : meta.sse !== undefined ? 'sse' : 'streamable-http',
        created: meta.created,
        lastActivity: meta.seen,
        host: meta.host,
      };
      if (meta.proto !== undefined) info.protocolVersion = meta.proto;
      sessions.push(info);
    });
    return sessions;
  }
}

/** One event of a resumed request stream, from the log or live. */
interface StreamItem {
  kind: 'open' | 'msg' | 'end' | 'alive';
  body?: string;
  id?: string;
  final: boolean;
}

const fromLog = (e: LoggedEvent): StreamItem => ({ kind: e.kind, body: e.body, id: e.id, final: e.final });
