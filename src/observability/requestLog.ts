/**
 * Access log and request ids.
 *
 * Every request gets an id: a sane incoming `X-Request-Id` (set by a load balancer or the client)
 * is kept, anything else is replaced by a random UUID. The id is echoed in the response header,
 * bound as `reqId` on `req.log`, and travels in the Redis envelope (`requestIdOf(req)`), so the
 * instance hosting a session logs the same `reqId` as the one that received the HTTP request.
 *
 * What reaches the log is an allow-list: method, URL with credential-bearing query values masked,
 * a few harmless headers, status. Bodies and the Authorization/Cookie headers are never
 * serialized; REDACT_PATHS in logger.ts is the second line of defence for ad-hoc log calls.
 *
 * Not pino-http: it binds the whole request to a child logger on every request, which pino
 * serialises and redacts eagerly — measured at ~185 µs per request, a third of the relaying
 * instance's CPU in `npm run bench`, even when the access line is never written. This middleware
 * writes the same line (same fields and messages) and does the work only when the level is on.
 */
import { randomUUID } from 'node:crypto';
import { IncomingMessage, type ServerResponse } from 'node:http';
import type { Request, RequestHandler } from 'express';
import { unredacted, type Logger } from './logger.js';
import { userIdOf, type AuthInfo } from '../auth/types.js';
import { onResponseDone } from './responseDone.js';

declare module 'http' {
  interface IncomingMessage {
    /** Request id (see requestLogger). */
    id?: string;
    /** Logger bound to this request's id (undefined on a request requestLogger did not see). */
    log: Logger | undefined;
  }
}

export const REQUEST_ID_HEADER = 'X-Request-Id';
/** Field name of the request id on every log line of a request, on all instances. */
export const REQUEST_ID_LOG_KEY = 'reqId';

/**
 * Printable token characters only and bounded length: the id lands in log lines and Redis
 * envelopes, so an incoming value must not be able to forge log structure or bloat either.
 */
const SANE_REQUEST_ID = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;

/** Query parameters whose values are credentials or single-use secrets (RFC 6749 §4.1.2, §2.3.1; RFC 6750 §2.3). */
export const MASKED_QUERY_PARAMS: ReadonlySet<string> = new Set([
  'code',
  'state',
  'token',
  'access_token',
  'refresh_token',
  'id_token',
  'client_secret',
  'code_verifier',
  'client_assertion',
  'password',
  // The login flow id of the integrated authorization server (short-lived, but a handle on a login).
  'flow',
]);

export interface RequestLogOptions {
  log: Logger;
  /** Paths logged at debug instead of info (probes and scrapes would drown the access log). */
  quietPaths?: readonly string[];
}

// Registered, not local: the accessor lives on a shared builtin prototype, and every copy of this
// module (jest loads one per test file) must read the same slot.
const kRequestLog = Symbol.for('mcp-scaled-server.requestLog');
type LoggedRequest = IncomingMessage & { [kRequestLog]?: { base: Logger; id: string; child?: Logger } };

/**
 * `req.log` is one accessor on IncomingMessage.prototype, defined once: a per-request
 * `Object.defineProperty` accessor changes every request's hidden class after creation, a V8 slow
 * path (measured at 10–30% of a relaying instance's CPU in `npm run bench`). It is undefined on requests this
 * middleware did not see.
 */
function installLogAccessor(): void {
  if (Object.getOwnPropertyDescriptor(IncomingMessage.prototype, 'log')) return;
  Object.defineProperty(IncomingMessage.prototype, 'log', {
    configurable: true,
    enumerable: false,
    get(this: LoggedRequest): Logger | undefined {
      const state = this[kRequestLog];
      if (!state) return undefined;
      return (state.child ??= state.base.child({ [REQUEST_ID_LOG_KEY]: state.id }));
    },
  });
}

export function requestLogger(opts: RequestLogOptions): RequestHandler {
  installLogAccessor();
  const quiet = new Set(opts.quietPaths ?? ['/health', '/ready', '/metrics']);
  const { log } = opts;
  // The access line is an allow-list (masked URL, harmless headers, status): nothing to redact.
  // Error lines carry `err`, whose fields are not ours to vouch for: they keep redaction.
  const accessLog = unredacted(log);
  return (req, res, next) => {
    const id = assignRequestId(req, res);
    req.id = id;
    const started = Date.now();
    // Handler logs carry only the id; the child is built on first use (most requests never log).
    (req as LoggedRequest)[kRequestLog] = { base: log, id };
    onResponseDone(res, (_end, err) => {
      const level =
        err || res.statusCode >= 500 ? 'error' : quiet.has(pathOf(req.originalUrl ?? req.url)) ? 'debug' : 'info';
      // Serialise only when the line will be written: the hot path pays nothing at quieter levels.
      if (!log.isLevelEnabled(level)) return;
      const user = userIdOf((req as IncomingMessage & { auth?: AuthInfo }).auth);
      const line = {
        [REQUEST_ID_LOG_KEY]: id,
        req: serializeRequest(req),
        res: serializeResponse(res),
        responseTime: Date.now() - started,
        ...(user === undefined ? {} : { user }),
        ...(err ? { err } : {}),
      };
      const msg =
        err || res.statusCode >= 500
          ? 'request errored'
          : res.writableFinished
            ? 'request completed'
            : 'request aborted';
      (err ? log : accessLog)[level](line, msg);
    });
    next();
  };
}

/** The request id assigned by `requestLogger` (always a string). */
export function requestIdOf(req: IncomingMessage): string {
  return typeof req.id === 'string' ? req.id : String(req.id);
}

function assignRequestId(req: IncomingMessage, res: ServerResponse): string {
  const incoming = req.headers['x-request-id'];
  const id = typeof incoming === 'string' && SANE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
  res.setHeader(REQUEST_ID_HEADER, id);
  return id;
}

/** `url` with the values of credential-bearing query parameters replaced by `[redacted]`. */
export function maskUrl(url: string): string {
  const q = url.indexOf('?');
  if (q === -1) return url;
  const path = url.slice(0, q);
  const hashAt = url.indexOf('#', q);
  const query = url.slice(q + 1, hashAt === -1 ? undefined : hashAt);
  const masked = query
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const rawName = eq === -1 ? pair : pair.slice(0, eq);
      return MASKED_QUERY_PARAMS.has(decodeName(rawName).toLowerCase()) ? `${rawName}=[redacted]` : pair;
    })
    .join('&');
  return `${path}?${masked}`;
}

function decodeName(raw: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    return raw;
  }
}

function pathOf(url: string | undefined): string {
  const u = url ?? '';
  const q = u.indexOf('?');
  return q === -1 ? u : u.slice(0, q);
}

const LOGGED_REQUEST_HEADERS = [
  'host',
  'user-agent',
  'content-type',
  'content-length',
  'accept',
  'origin',
  'mcp-protocol-version',
  'mcp-session-id',
  'last-event-id',
] as const;

function serializeRequest(req: IncomingMessage) {
  const express = req as Partial<Request>;
  const headers: Record<string, string> = {};
  for (const name of LOGGED_REQUEST_HEADERS) {
    const v = req.headers[name];
    if (typeof v === 'string') headers[name] = v;
  }
  return {
    id: req.id,
    method: req.method,
    url: maskUrl(express.originalUrl ?? req.url ?? ''),
    // express's req.ip honours `trust proxy`; the socket address is the fallback outside express.
    remoteAddress: express.ip ?? req.socket?.remoteAddress,
    headers,
  };
}

function serializeResponse(res: ServerResponse) {
  const type = res.getHeader('content-type');
  return { statusCode: res.statusCode, ...(typeof type === 'string' ? { contentType: type } : {}) };
}
