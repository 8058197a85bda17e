/**
 * The SDK `Transport` of a session on its host instance. Inbound messages arrive from Redis (any
 * instance may have received the HTTP request); outbound ones are routed by the SDK's
 * `relatedRequestId`:
 *   - a response goes to the reply channel of the request it answers, and ends that stream;
 *   - a message related to an in-flight request (progress, log, sampling…) rides that request's
 *     reply channel, i.e. the POST's SSE stream on whichever instance holds it;
 *   - anything else goes to the session's outbound channel, i.e. its standalone GET stream.
 * A legacy HTTP+SSE (2024-11-05) session has no per-request streams: its POSTs are answered 202 and
 * every message, responses included, travels on its one /sse stream (`routeAllToOutbound`).
 */
import type {
  JSONRPCMessage,
  MessageExtraInfo,
  RequestId,
  Transport,
  TransportSendOptions,
} from '@modelcontextprotocol/server';
import type { Logger } from '../observability/logger.js';
import { encode } from './envelope.js';
import { GET_STREAM, type EventKind } from './eventLog.js';

export interface InflightRequest {
  /** Reply channel of the relay holding the HTTP response. */
  channel: string;
  /** Resumable-stream id of the request's SSE response (see eventLog.ts); set only when it is logged. */
  streamId: string | undefined;
  /** Something besides the answer was sent (a message or a heartbeat): the relay streams SSE, so log it. */
  streaming: boolean;
  /** Tail of the stream's log-then-publish tasks (see `inOrder`). */
  chain?: Promise<unknown>;
  method: string;
  /** Last time anything was sent on the channel (drives heartbeats). */
  lastSent: number;
}

export interface HostTransportDeps {
  sessionId: string;
  /** Publishes on a channel; resolves to the number of receivers. */
  publish(channel: string, payload: string): Promise<number>;
  outboundChannel: string;
  log: Logger;
  /** Cap on server→client requests awaiting the client's answer. */
  maxPendingClientRequests: number;
  /**
   * Legacy HTTP+SSE session: every request's answer and related messages go to `outboundChannel`,
   * and there is no per-request stream to keep alive or end.
   */
  routeAllToOutbound?: boolean;
  /** Called with every response the server sends (the host watches the initialize result). */
  onResponse?(message: JSONRPCMessage, request: InflightRequest): void;
  /**
   * Appends to the session's event log and returns the SSE event id (resumability). Without it
   * nothing is logged and events carry no ids.
   */
  logEvent?(streamId: string, kind: EventKind, body?: string, final?: boolean): Promise<string>;
}

export class NoStreamError extends Error {
  override name = 'NoStreamError';
}

export class HostTransport implements Transport {
  onmessage?: (message: JSONRPCMessage, extra?: MessageExtraInfo) => void;
  onclose?: () => void;
  onerror?: (error: Error) => void;
  readonly sessionId: string;

  private readonly inflight = new Map<RequestId, InflightRequest>();
  /** Responses the server produces for replayed requests (session takeover); never delivered. */
  private readonly swallowed = new Set<RequestId>();
  /** Ids of server→client requests still awaiting the client's response. */
  private readonly pendingClientRequests = new Set<RequestId>();
  /** Ordering of the GET stream's logged notifications (see `inOrder`). */
  private readonly getStream: { chain?: Promise<unknown> } = {};
  private closed = false;

  constructor(private readonly deps: HostTransportDeps) {
    this.sessionId = deps.sessionId;
  }

  async start(): Promise<void> {}

  /**
   * Hands a client message to the SDK. `channel` is set for requests: where their answer goes
   * (ignored when every answer goes to the outbound channel).
   */
  deliver(message: JSONRPCMessage, extra: MessageExtraInfo, channel?: string, streamId?: string): void {
    if (this.deps.routeAllToOutbound) channel = this.deps.outboundChannel;
    // Only a stream the client can resume, on a transport that logs, carries a stream id.
    if (this.deps.routeAllToOutbound || !this.deps.logEvent) streamId = undefined;
    if ('method' in message && 'id' in message && channel !== undefined) {
      this.inflight.set(message.id, {
        channel,
        streamId,
        streaming: false,
        method: message.method,
        lastSent: Date.now(),
      });
      // Like the SDK's own transport: offered only when the client can resume the stream (the
      // handler sees it as `ctx.http.closeSSE`).
      if (streamId !== undefined) {
        const id = message.id;
        extra = { ...extra, closeSSEStream: () => void this.closeStream(id) };
      }
    } else if (!('method' in message) && message.id !== undefined) {
      this.pendingClientRequests.delete(message.id);
    }
    this.onmessage?.(message, extra);
  }

  /** Feeds a stored message back into the server without routing its response anywhere. */
  replay(message: JSONRPCMessage): void {
    if ('id' in message && 'method' in message) this.swallowed.add(message.id);
    this.onmessage?.(message, {});
  }

  isInflight(id: RequestId): boolean {
    return this.inflight.has(id);
  }

  get inflightCount(): number {
    return this.inflight.size;
  }

  /** Server→client requests (sampling, elicitation, roots) still awaiting the client's answer. */
  get pendingClientRequestCount(): number {
    return this.pendingClientRequests.size;
  }

  /** Ends a request's stream without a response (the client cancelled it: no response is sent). */
  async end(id: RequestId, reason: string): Promise<void> {
    const req = this.inflight.get(id);
    if (!req) return;
    this.inflight.delete(id);
    // The legacy /sse stream is the session's only stream: it outlives any one request.
    if (this.deps.routeAllToOutbound) return;
    const publishEnd = () => this.deps.publish(req.channel, encode({ type: 'end', reason }));
    if (req.streamId === undefined || !req.streaming) {
      await publishEnd();
      return;
    }
    // A client resuming this stream later learns that it ended.
    await this.inOrder(req, async () => {
      await this.log(req.streamId, 'end');
      return publishEnd();
    });
  }

  /** Tells relays of slow requests that the host is alive, so they do not time out. */
  async heartbeat(now: number, quietMs: number): Promise<void> {
    // No relay waits on a legacy request (its POST was answered 202); the /sse stream has its own keep-alives.
    if (this.deps.routeAllToOutbound) return;
    const beats: Promise<number>[] = [];
    for (const req of this.inflight.values()) {
      if (now - req.lastSent >= quietMs) {
        req.lastSent = now;
        // The relay opens its SSE stream on a heartbeat: from now on the stream is logged.
        this.startStreaming(req);
        const beat = () => this.deps.publish(req.channel, encode({ type: 'alive' }));
        beats.push(req.streamId === undefined ? beat() : this.inOrder(req, beat));
      }
    }
    await Promise.all(beats);
  }

  async send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    if (this.closed) throw new NoStreamError('session transport is closed');
    const raw = JSON.stringify(message);

    if (!('method' in message)) {
      // A response (result or error) to a client request.
      if (message.id === undefined) {
        this.deps.log.debug('id-less error response from the server dropped');
        return;
      }
      if (this.swallowed.delete(message.id)) return;
      const req = this.inflight.get(message.id);
      if (!req) {
        this.deps.log.debug({ id: message.id }, 'response for a request no longer in flight dropped');
        return;
      }
      this.inflight.delete(message.id);
      this.deps.onResponse?.(message, req);
      // A lone answer (nothing sent before it) goes out as plain JSON and is never logged.
      const { streamId } = req;
      if (streamId === undefined || !req.streaming) {
        await this.deps.publish(req.channel, encode({ type: 'msg', final: true }, raw));
        return;
      }
      await this.inOrder(req, () => this.logAndPublish(streamId, req.channel, raw, true));
      return;
    }

    const isRequest = 'id' in message;
    if (isRequest) {
      if (this.pendingClientRequests.size >= this.deps.maxPendingClientRequests) {
        throw new NoStreamError(
          `too many pending server-to-client requests in this session (max ${this.deps.maxPendingClientRequests})`,
        );
      }
      this.pendingClientRequests.add(message.id);
    }

    const related = options?.relatedRequestId;
    const req = related === undefined ? undefined : this.inflight.get(related);
    if (req) {
      req.lastSent = Date.now();
      // Before any await: an answer sent meanwhile must queue behind this message.
      this.startStreaming(req);
      const { streamId } = req;
      if (streamId === undefined) {
        await this.deps.publish(req.channel, encode({ type: 'msg' }, raw));
        return;
      }
      await this.inOrder(req, () => this.logAndPublish(streamId, req.channel, raw, false));
      return;
    }

    // Notifications on the GET stream are logged for a client that reconnects with Last-Event-ID;
    // server→client requests are not (one that finds no open stream fails at once, below).
    const receivers =
      isRequest || this.deps.routeAllToOutbound || !this.deps.logEvent
        ? await this.deps.publish(this.deps.outboundChannel, encode({ type: 'msg' }, raw))
        : await this.inOrder(this.getStream, () =>
            this.logAndPublish(GET_STREAM, this.deps.outboundChannel, raw, false),
          );
    if (receivers === 0) {
      if (isRequest) {
        this.pendingClientRequests.delete(message.id);
        // Failing now beats the SDK's 60 s request timeout: nobody could answer.
        throw new NoStreamError('no open stream to deliver a server-to-client request on; open a GET stream first');
      }
      this.deps.log.debug({ method: message.method }, 'no GET stream open: server notification dropped');
    }
  }

  /**
   * Ends a request's SSE response before its answer (`ctx.http.closeSSE`, SEP-1699 polling). The
   * request goes on; its messages are logged, and the client gets them by resuming the stream.
   */
  private async closeStream(id: RequestId): Promise<void> {
    const req = this.inflight.get(id);
    if (req?.streamId === undefined) return;
    this.startStreaming(req);
    await this.inOrder(req, () => this.deps.publish(req.channel, encode({ type: 'close' }))).catch((err: Error) =>
      this.deps.log.debug({ err: err.message }, 'closing a request stream failed'),
    );
  }

  /**
   * Marks a request as streaming (something besides its answer goes out). A logged stream's `open`
   * event is queued then, once, ahead of everything else the stream logs.
   */
  private startStreaming(req: InflightRequest): void {
    if (req.streaming) return;
    req.streaming = true;
    if (req.streamId !== undefined) void this.inOrder(req, () => this.log(req.streamId, 'open'));
  }

  /** Logs a message, then publishes it with its event id. */
  private logAndPublish(streamId: string, channel: string, raw: string, final: boolean): Promise<number> {
    return logAndPublish(this.deps, streamId, channel, raw, final);
  }

  /**
   * Runs `task` after every earlier task of the same stream. Logging takes a Redis round trip
   * before each publish; without this, a message sent while an earlier one was being logged could
   * overtake it (an answer ending the stream before its last progress notification).
   */
  private inOrder<T>(stream: { chain?: Promise<unknown> }, task: () => Promise<T>): Promise<T> {
    const run = (stream.chain ?? Promise.resolve()).then(task);
    stream.chain = run.catch(() => undefined);
    return run;
  }

  /** Logs an event when the stream is resumable; a failure loses resumability, not the message. */
  private log(
    streamId: string | undefined,
    kind: EventKind,
    body?: string,
    final?: boolean,
  ): Promise<string | undefined> {
    return logEvent(this.deps, streamId, kind, body, final);
  }

  /** Ends every in-flight request's stream (session closing) and closes the transport. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const ends = (this.deps.routeAllToOutbound ? [] : [...this.inflight.values()]).map((req) =>
      this.deps.publish(req.channel, encode({ type: 'end', reason: 'session closed' })).catch(() => 0),
    );
    this.inflight.clear();
    await Promise.all(ends);
    this.onclose?.();
  }
}

type LoggingDeps = Pick<HostTransportDeps, 'publish' | 'logEvent' | 'log'>;

/** Logs an event when the stream is resumable; a failure loses resumability, not the message. */
async function logEvent(
  deps: LoggingDeps,
  streamId: string | undefined,
  kind: EventKind,
  body?: string,
  final?: boolean,
): Promise<string | undefined> {
  if (streamId === undefined || !deps.logEvent) return undefined;
  try {
    return await deps.logEvent(streamId, kind, body, final);
  } catch (err) {
    deps.log.warn(
      { err: (err as Error).message, stream: streamId },
      'event log append failed; event sent without an id',
    );
    return undefined;
  }
}

/**
 * Logs a message, then publishes it with its event id. Also how a passivated session, which has
 * no transport, sends a notification to its GET stream (src/routing/sessionHost.ts).
 */
export async function logAndPublish(
  deps: LoggingDeps,
  streamId: string,
  channel: string,
  raw: string,
  final: boolean,
): Promise<number> {
  const e = await logEvent(deps, streamId, 'msg', raw, final);
  return deps.publish(channel, encode({ type: 'msg', final: final || undefined, eventId: e }, raw));
}
