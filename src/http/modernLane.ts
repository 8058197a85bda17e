/**
 * The 2026-07-28 lane of /mcp: stateless, answered by whichever instance receives the request.
 * Two ways through, both the SDK's:
 *   - the direct path (most requests: tools, prompts, resources, completions, discovery): a server
 *     from a pool, connected to a NodeModernExchange, the SDK's per-request transport writing to
 *     Node's response (modernExchange.ts). The protocol layer dispatches and validates as it does
 *     behind the SDK's entry; the entry's own ladder rungs are kept out of its way by
 *     modernDirectRoute.ts, and a refusal at dispatch is handed to the entry;
 *   - the SDK's per-request entry, `createMcpHandler(build, { legacy: 'reject', bus })`
 *     (typescript-sdk docs/serving/legacy-clients.md, "Keep a sessionful 2025 deployment
 *     running"), for everything else: `subscriptions/listen` (its listen router, fed by the shared
 *     change bus), the tasks methods, notifications, and every request the ladder refuses. It
 *     builds a fresh server per request from the same builder, answers with web `Request` and
 *     `Response` objects, and this file adapts Node's request and response to them.
 * The direct path exists for speed: the entry's web objects and per-request server cost several
 * times what dispatching the request does (docs/performance.md). `direct: false` sends every
 * request through the entry.
 *
 * What crosses Redis: nothing for a plain request. The change bus (one subscription per instance)
 * feeds listen streams, the `requestState` keys and the tasks live in Redis, and those are only
 * touched by the requests that use them.
 *
 * The request gets here behind the same guards as the 2025 lane (src/app.ts: Origin, CORS, the
 * per-address limit, bearer auth, the per-user limit); the verified identity is passed as
 * `authInfo`, and the body the endpoint already parsed as `parsedBody`. The Authorization and
 * Cookie headers do not travel further: nothing past the bearer check may see the token
 * (MCP authorization, "Token Passthrough"), and the SDK hands the request to handlers.
 */
import { once } from 'node:events';
import type { IncomingHttpHeaders } from 'node:http';
import type { Request, Response } from 'express';
import {
  createMcpHandler,
  type JSONRPCMessage,
  type McpHttpHandler,
  type McpServer,
  type ServerEventBus,
} from '@modelcontextprotocol/server';
import type { Logger } from '../observability/logger.js';
import type { ModernVerdict } from './lanes.js';
import { NodeModernExchange } from './modernExchange.js';
import { declaresParamHeaders, directRoute, type DirectRoute } from './modernDirectRoute.js';
import { ServerPool } from './serverPool.js';

export interface ModernLaneOptions {
  /** Builds a server for 2026-07-28 requests (no session; callers are read from each request). */
  build: () => McpServer;
  /** Serve what it can on pooled servers (default true); false: everything through the SDK's entry. */
  direct?: boolean;
  /** Idle servers kept for the direct path. */
  maxIdleServers?: number;
  /** The change bus every instance shares (routing/serverEventBus.ts). */
  bus: ServerEventBus;
  log: Logger;
  /** This endpoint's URL (the handler reads only its path). */
  endpointUrl: string;
  /** Open `subscriptions/listen` streams this instance accepts; more are refused in-band. */
  maxSubscriptions: number;
  /** SSE keep-alive comment period (proxies cut idle streams). */
  keepAliveMs: number;
  /** Counts each request by method (metrics). */
  onMessage?: (method: string) => void;
  /**
   * Counts each request by the way it was answered (metrics: a direct share that falls to nothing
   * after an SDK upgrade says why the lane got slower).
   */
  onServed?: (path: ServedBy) => void;
}

/** How a request was answered: on a pooled server, or by the SDK's entry. */
export type ServedBy = 'direct' | 'entry';

/** Never handed on: the bearer token (and cookies) stop at the auth middleware. */
const WITHHELD = new Set(['authorization', 'cookie', 'proxy-authorization']);

/** Enough idle servers for the concurrency one instance sees; beyond it they are built and dropped. */
const DEFAULT_MAX_IDLE_SERVERS = 64;

export class ModernLane {
  private readonly handler: McpHttpHandler;
  private readonly pool: ServerPool | undefined;
  /** Direct exchanges in flight, cut short on close like the entry's. */
  private readonly exchanges = new Set<NodeModernExchange>();
  /** Open `subscriptions/listen` exchanges, ended on shutdown so their clients re-listen on another instance. */
  private readonly listens = new Set<AbortController>();
  private closed = false;

  constructor(private readonly options: ModernLaneOptions) {
    this.handler = createMcpHandler(() => options.build(), {
      legacy: 'reject',
      bus: options.bus,
      maxSubscriptions: options.maxSubscriptions,
      keepAliveMs: options.keepAliveMs,
      onerror: (err) => options.log.debug({ err: err.message }, 'modern lane: request refused or failed'),
    });
    this.pool =
      options.direct === false
        ? undefined
        : new ServerPool(options.build, options.maxIdleServers ?? DEFAULT_MAX_IDLE_SERVERS);
  }

  /** Answers one POST whose body (`message`) the endpoint has parsed and the lanes classified. */
  async serve(req: Request, res: Response, message: JSONRPCMessage, verdict: ModernVerdict): Promise<void> {
    const method = 'method' in message ? message.method : undefined;
    if (method) this.options.onMessage?.(method);
    // Once closed, requests go to the entry, which refuses them like any request after close.
    const route = this.pool && !this.closed ? directRoute(verdict, req.headers) : undefined;
    if (route && (await this.serveDirect(req, res, route))) {
      this.options.onServed?.('direct');
      return;
    }
    this.options.onServed?.('entry');
    await this.serveThroughSdk(req, res, message, method);
  }

  /** Serves `route` on a pooled server; false when the SDK's entry has to answer it instead. */
  private async serveDirect(req: Request, res: Response, route: DirectRoute): Promise<boolean> {
    const pool = this.pool!;
    const server = pool.take();
    if (declaresParamHeaders(server, route.message)) {
      pool.give(server);
      return false;
    }
    const exchange = new NodeModernExchange(res, route.classification, this.options.keepAliveMs, (outcome) => {
      this.exchanges.delete(exchange);
      if (outcome !== 'cancelled') pool.give(server);
    });
    await server.connect(exchange);
    this.exchanges.add(exchange);
    if (res.destroyed) {
      // The client left while the server was being connected: nothing to answer.
      await exchange.close();
      return true;
    }
    if (!exchange.deliver(route.message, req.auth)) return false;
    await exchange.outcome;
    return true;
  }

  /** Serves the request through `createMcpHandler`'s web-standard face. */
  private async serveThroughSdk(
    req: Request,
    res: Response,
    message: JSONRPCMessage,
    method: string | undefined,
  ): Promise<void> {
    // Closing the connection before the answer is complete is cancellation on this revision.
    const abort = new AbortController();
    const onClose = () => {
      if (!res.writableFinished) abort.abort();
    };
    res.once('close', onClose);
    const isListen = method === 'subscriptions/listen';
    if (isListen) this.listens.add(abort);
    try {
      const request = new globalThis.Request(this.options.endpointUrl, {
        method: 'POST',
        headers: forwardedHeaders(req.headers),
        signal: abort.signal,
      });
      const response = await this.handler.fetch(request, {
        parsedBody: message,
        ...(req.auth ? { authInfo: req.auth } : {}),
      });
      await writeResponse(res, response, abort.signal);
    } finally {
      if (isListen) this.listens.delete(abort);
      res.off('close', onClose);
    }
  }

  /** Open `subscriptions/listen` streams on this instance (metrics). */
  get listenStreams(): number {
    return this.listens.size;
  }

  /** Ends every open listen stream (shutdown): their clients see the stream end and listen elsewhere. */
  endListenStreams(): void {
    for (const abort of this.listens) abort.abort();
    this.listens.clear();
  }

  /** Aborts what is still in flight and closes the handler. */
  async close(): Promise<void> {
    this.closed = true;
    this.endListenStreams();
    await Promise.all([...this.exchanges].map((exchange) => exchange.close()));
    this.pool?.clear();
    await this.handler.close();
  }
}

function forwardedHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || WITHHELD.has(name)) continue;
    out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/** Copies a web Response onto Node's: one write for JSON, chunk by chunk (with backpressure) for SSE. */
async function writeResponse(res: Response, response: globalThis.Response, aborted: AbortSignal): Promise<void> {
  res.statusCode = response.status;
  response.headers.forEach((value, name) => res.setHeader(name, value));
  if (response.body === null) {
    res.end();
    return;
  }
  if (!(response.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
    // The bytes as they are (no decode and re-encode), with their length: one write, not chunked.
    const body = Buffer.from(await response.arrayBuffer());
    res.setHeader('Content-Length', body.length);
    res.end(body);
    return;
  }
  res.flushHeaders();
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const stop = () => void reader.cancel().catch(() => undefined);
  aborted.addEventListener('abort', stop, { once: true });
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done || res.destroyed) break;
      if (!res.write(value)) await Promise.race([once(res, 'drain'), once(res, 'close')]);
    }
  } catch {
    // The client went away or the stream was cancelled: nothing left to write to.
  } finally {
    aborted.removeEventListener('abort', stop);
    res.end();
  }
}
