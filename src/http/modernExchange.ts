/**
 * One 2026-07-28 exchange written straight onto Node's response: the per-request transport of the
 * modern lane's direct path (modernLane.ts).
 *
 * It is the SDK's `PerRequestHTTPServerTransport` with a Node face. Being one is what binds the
 * server it is connected to to the request's revision ("Connecting a `Server` binds the instance to
 * the classified modern revision when its `supportedProtocolVersions` lists it", the class's
 * documented contract; outside `createMcpHandler` no other public API serves the stateless era).
 * What it replaces is the exchange itself, which the base class builds out of web `Response` and
 * `ReadableStream` objects for the caller to copy onto Node's response. Here the answer goes to
 * `res` directly, shaped as the base class shapes it (its response modes, `auto`):
 *   - the terminal response alone: one JSON body with its length, HTTP 200, or 400 for -32021
 *     (MissingRequiredClientCapability), which the spec mandates for that error wherever it arises
 *     (the base class's "per-error HTTP mandate" for custom entries);
 *   - related messages first (progress, log messages, from the handler): the response becomes an
 *     SSE stream (`event: message` frames, keep-alive comments), the terminal response last;
 *   - anything else: dropped (a stateless exchange has no session-wide stream).
 *
 * A refusal the protocol layer sends while the message is still being delivered (the era gate, a
 * method this revision removed, a missing handler, the envelope: the ladder's dispatch rungs) is
 * not written: `deliver` reports it, and the caller lets the SDK's own entry answer the request, so
 * the ladder's HTTP statuses and shapes are always the SDK's. No handler has run at that point
 * (handlers start a microtask after delivery), so answering elsewhere repeats nothing.
 *
 * Closing the response before the answer is complete is cancellation (2026-07-28 basic/transports):
 * `close()` tears the exchange down, which aborts the handler through the server's close chain.
 */
import type { ServerResponse } from 'node:http';
import {
  PerRequestHTTPServerTransport,
  ProtocolErrorCode,
  type AuthInfo,
  type JSONRPCMessage,
  type JSONRPCRequest,
  type MessageClassification,
  type RequestId,
  type TransportSendOptions,
} from '@modelcontextprotocol/server';

/** How an exchange ended: answered on `res`, refused before any handler ran (nothing written), or cut short. */
export type ExchangeOutcome = 'answered' | 'refused' | 'cancelled';

/** The SSE response head, as the SDK's per-request transport sends it when it upgrades. */
const SSE_HEAD = {
  'Content-Type': 'text/event-stream',
  'Cache-Control': 'no-cache, no-transform',
  Connection: 'keep-alive',
  // Proxies such as nginx must not buffer the stream.
  'X-Accel-Buffering': 'no',
};

export class NodeModernExchange extends PerRequestHTTPServerTransport {
  /** Settles once the exchange has an outcome; the transport closes itself shortly after. */
  readonly outcome: Promise<ExchangeOutcome>;
  // ECMAScript-private state: nothing here can collide with the base class's own members.
  readonly #res: ServerResponse;
  readonly #classification: MessageClassification;
  readonly #keepAliveMs: number;
  readonly #onClosed: (outcome: ExchangeOutcome) => void;
  #settle!: (outcome: ExchangeOutcome) => void;
  #requestId: RequestId | undefined;
  /** True while the protocol layer takes the message: what it answers then is a ladder refusal. */
  #delivering = false;
  #settledAs: ExchangeOutcome | undefined;
  #closed = false;
  #streaming = false;
  #keepAlive: NodeJS.Timeout | undefined;
  readonly #onResponseClose = () => {
    // The client went away before the answer was complete: cancel (2026-07-28).
    if (this.#settledAs === undefined) void this.close();
  };

  /** `onClosed` runs once the transport has closed, when the connected server is free again. */
  constructor(
    res: ServerResponse,
    classification: MessageClassification,
    keepAliveMs: number,
    onClosed: (outcome: ExchangeOutcome) => void,
  ) {
    super({ classification, keepAliveMs });
    this.#res = res;
    this.#classification = classification;
    this.#keepAliveMs = keepAliveMs;
    this.#onClosed = onClosed;
    this.outcome = new Promise((resolve) => (this.#settle = resolve));
  }

  override async start(): Promise<void> {
    // Nothing to open: the response exists; `deliver` starts the exchange.
  }

  /**
   * Hands the request to the connected server. Returns false when the protocol layer refused it
   * during delivery: nothing was written, and the SDK's entry must answer instead.
   */
  deliver(message: JSONRPCRequest, authInfo: AuthInfo | undefined): boolean {
    if (this.#requestId !== undefined || !this.onmessage)
      throw new Error('NodeModernExchange serves one request on a connected server');
    this.#requestId = message.id;
    this.#res.once('close', this.#onResponseClose);
    this.#delivering = true;
    try {
      this.onmessage(message, { classification: this.#classification, ...(authInfo ? { authInfo } : {}) });
    } finally {
      this.#delivering = false;
    }
    if (this.#settledAs !== 'refused') return true;
    void this.close();
    return false;
  }

  /** The base class's web-standard entry; this transport is driven by `deliver` only. */
  override async handleMessage(): Promise<Response> {
    throw new Error('NodeModernExchange writes to a Node response: use deliver()');
  }

  override async send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    if (this.#settledAs !== undefined) return;
    // Messages come from the protocol layer, already well-formed: their kind is their keys.
    const isResponse = !('method' in message);
    const related = isResponse ? (message as { id?: RequestId }).id : options?.relatedRequestId;
    if (related === undefined || related !== this.#requestId) {
      if (isResponse) this.onerror?.(new Error(`Received a response for an unknown request id: ${String(related)}`));
      return;
    }
    if (!isResponse) {
      this.#openStream();
      this.#writeMessage(message);
      return;
    }
    if (this.#delivering) {
      // A ladder refusal (see the header): the SDK's entry answers it, not this exchange.
      this.#finish('refused');
      return;
    }
    const res = this.#res;
    if (this.#streaming) {
      this.#writeMessage(message);
      res.end();
    } else {
      // Encoded once: its length and the bytes written are the same buffer.
      const body = Buffer.from(JSON.stringify(message));
      const code = 'error' in message ? message.error.code : undefined;
      res.writeHead(code === ProtocolErrorCode.MissingRequiredClientCapability ? 400 : 200, {
        'Content-Type': 'application/json',
        'Content-Length': body.length,
      });
      res.end(body);
    }
    this.#finish('answered');
    // Released once the protocol layer is done with the request (its promise chain runs to the
    // end of this tick): closing any sooner would abort the answered handler's signal for nothing.
    process.nextTick(() => void this.close());
  }

  override writeCommentFrame(comment: string): void {
    if (!this.#streaming || this.#settledAs !== undefined) return;
    this.#res.write(
      `${comment
        .split('\n')
        .map((line) => `: ${line}`)
        .join('\n')}\n\n`,
    );
  }

  override async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const res = this.#res;
    res.off('close', this.#onResponseClose);
    if (this.#settledAs === undefined) {
      // Cut short: the client went away (nothing left to write to), or the lane is closing.
      if (this.#streaming) res.end();
      else if (!res.headersSent && !res.destroyed) res.writeHead(499).end();
      this.#finish('cancelled');
    }
    try {
      this.onclose?.();
    } finally {
      this.#onClosed(this.#settledAs ?? 'cancelled');
    }
  }

  #finish(outcome: ExchangeOutcome): void {
    this.#settledAs = outcome;
    this.#stopKeepAlive();
    this.#settle(outcome);
  }

  #openStream(): void {
    if (this.#streaming) return;
    this.#streaming = true;
    this.#res.writeHead(200, SSE_HEAD);
    if (Number.isFinite(this.#keepAliveMs) && this.#keepAliveMs >= 1) {
      this.#keepAlive = setInterval(() => this.writeCommentFrame('keepalive'), this.#keepAliveMs);
      this.#keepAlive.unref();
    }
  }

  #writeMessage(message: JSONRPCMessage): void {
    this.#res.write(`event: message\ndata: ${JSON.stringify(message)}\n\n`);
  }

  #stopKeepAlive(): void {
    if (this.#keepAlive) clearInterval(this.#keepAlive);
    this.#keepAlive = undefined;
  }
}
