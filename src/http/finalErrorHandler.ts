/**
 * The last word on any request: a route nobody serves, or an error nothing before caught (a bug,
 * a dead Redis under the auth layer, a body the parser refused). Answered in the protocol shape of
 * the route it reached, never Express's HTML page and never a stack trace (security review
 * finding 7): JSON-RPC errors on the MCP transports, problem JSON (RFC 9457) elsewhere. OAuth
 * endpoints answer their own errors before this (src/auth/server/errors.ts).
 */
import { STATUS_CODES } from 'node:http';
import type { ErrorRequestHandler, Request, RequestHandler, Response } from 'express';
import type { Logger } from '../observability/logger.js';
import { JsonRpcCode, sendJsonRpcError } from './jsonRpcError.js';

export type ErrorShape = 'json-rpc' | 'problem';

function sendProblem(res: Response, status: number, detail?: string): void {
  res
    .status(status)
    .type('application/problem+json')
    .send(
      JSON.stringify({
        type: 'about:blank',
        title: STATUS_CODES[status] ?? 'Error',
        status,
        ...(detail ? { detail } : {}),
      }),
    );
}

/** 404 for every path no route answered. */
export function notFoundHandler(): RequestHandler {
  return (_req, res) => sendProblem(res, 404);
}

/**
 * `shapeOf` picks the shape from the request path. Client errors that carry their own 4xx status
 * (body-parser's, http-errors') keep it; anything else is a 500, logged with its message only.
 */
export function finalErrorHandler(log: Logger, shapeOf: (req: Request) => ErrorShape): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    const declared =
      (err as { status?: unknown; statusCode?: unknown } | undefined)?.status ??
      (err as { statusCode?: unknown } | undefined)?.statusCode;
    const status = typeof declared === 'number' && declared >= 400 && declared < 500 ? declared : 500;
    if (status === 500) {
      log.error(
        { err: err instanceof Error ? { name: err.name, message: err.message } : String(err), path: req.path },
        'unhandled error',
      );
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (shapeOf(req) === 'json-rpc') {
      const code =
        status === 500
          ? JsonRpcCode.InternalError
          : status === 400
            ? JsonRpcCode.ParseError
            : JsonRpcCode.InvalidRequest;
      sendJsonRpcError(res, status, code, status === 500 ? 'Internal error' : (STATUS_CODES[status] ?? 'Bad request'));
      return;
    }
    sendProblem(res, status);
  };
}
