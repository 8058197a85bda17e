/**
 * The 2026-07-28 lane of /mcp: stateless, answered by whichever instance receives the request.
 * It is the SDK's own per-request entry, `createMcpHandler(factory, { legacy: 'reject', bus })`
 * (typescript-sdk docs/serving/legacy-clients.md, "Keep a sessionful 2025 deployment running"):
 * the SDK runs the whole 2026 validation ladder (version, envelope, MCP-Protocol-Version /
 * Mcp-Method / Mcp-Name, client capabilities), builds a fresh server from our factory, answers as
 * JSON or SSE, and serves `subscriptions/listen` from the shared change bus. This file only adapts
 * Node's request and response to the handler's web-standard face.
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
import { createMcpHandler, type JSONRPCMessage, type McpHttpHandler, type McpServerFactory, type ServerEventBus } from '@modelcontextprotocol/server';
import type { Logger } from '../observability/logger.js';

export interface ModernLaneOptions {
  factory: McpServerFactory;
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
}

/** Never handed on: the bearer token (and cookies) stop at the auth middleware. */
const WITHHELD = new Set(['authorization', 'cookie', 'proxy-authorization']);

export class ModernLane {
  private readonly handler: McpHttpHandler;
  /** Open listen exchanges, ended on shutdown so their clients re-listen on another instance. */
  private readonly listens = new Set<AbortController>();

  constructor(private readonly options: ModernLaneOptions) {
    this.handler = createMcpHandler(options.factory, {
      legacy: 'reject',
      bus: options.bus,
      maxSubscriptions: options.maxSubscriptions,
      keepAliveMs: options.keepAliveMs,
      onerror: (err) => options.log.debug({ err: err.message }, 'modern lane: request refused or failed'),
    });
  }

  /** Answers one POST whose body (`message`) the endpoint has parsed. */
  async serve(req: Request, res: Response, message: JSONRPCMessage): Promise<void> {
    const method = 'method' in message ? message.method : undefined;
    if (method) this.options.onMessage?.(method);
    // Closing the connection before the answer is complete is cancellation on this revision.
    const abort = new AbortController();
    const onClose = () => {
      if (!res.writableFinished) abort.abort();
    };
    res.once('close', onClose);
    const isListen = method === 'subscriptions/listen';
    if (isListen) this.listens.add(abort);
    try {
      const request = new globalThis.Request(this.options.endpointUrl, { method: 'POST', headers: forwardedHeaders(req.headers), signal: abort.signal });
      const response = await this.handler.fetch(request, { parsedBody: message, ...(req.auth ? { authInfo: req.auth } : {}) });
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
  close(): Promise<void> {
    this.endListenStreams();
    return this.handler.close();
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
  const reader = response.body.getReader();
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
