/**
 * The JSON-RPC body of a POSTed MCP message, read the same way by every endpoint that takes one
 * (Streamable HTTP `POST /mcp`, legacy HTTP+SSE `POST /message`): the raw text is kept, because
 * relays forward it to the session's host verbatim, and the parsed message decides the routing.
 */
import express, { type ErrorRequestHandler, type Request, type RequestHandler, type Response } from 'express';
import { isSpecType, type JSONRPCMessage } from '@modelcontextprotocol/server';
import { JsonRpcCode, sendJsonRpcError } from './jsonRpcError.js';

/** `application/json`, optionally with `charset=utf-8`: what MCP clients send. */
const PLAIN_JSON = /^application\/json[ \t]*(?:;[ \t]*charset=(?:utf-8|"utf-8")[ \t]*)?$/i;

/**
 * Reads an `application/json` body as text (`req.body`), up to `maxBytes`; other content types
 * leave `req.body` unset. Errors carry body-parser's `type` (see `jsonRpcBodyErrors`).
 *
 * The common case — a `Content-Length` within the limit, UTF-8, no `Content-Encoding` — is read
 * directly from the stream: body-parser's generic path (type-is, raw-body, iconv) is a visible share
 * of a relaying instance's CPU (docs/performance.md). Everything else (chunked bodies, oversized ones,
 * compressed ones, other charsets) goes through body-parser, which keeps its exact behaviour.
 */
export function jsonRpcBodyReader(maxBytes: number): RequestHandler {
  const general = express.text({ type: 'application/json', limit: maxBytes });
  return (req, res, next) => {
    const length = plainJsonLength(req, maxBytes);
    if (length === undefined) return general(req, res, next);
    readPlain(req, length, next);
  };
}

/** The declared length of a body the fast path can take, or undefined. */
function plainJsonLength(req: Request, maxBytes: number): number | undefined {
  const { headers } = req;
  const type = headers['content-type'];
  if (type === undefined || !PLAIN_JSON.test(type)) return undefined;
  const encoding = headers['content-encoding'];
  if (encoding !== undefined && encoding.toLowerCase() !== 'identity') return undefined;
  // Node's parser has already rejected a malformed or conflicting Content-Length.
  const declared = headers['content-length'];
  if (declared === undefined || headers['transfer-encoding'] !== undefined) return undefined;
  const length = Number(declared);
  return Number.isSafeInteger(length) && length <= maxBytes ? length : undefined;
}

function readPlain(req: Request, length: number, next: (err?: unknown) => void): void {
  const chunks: Buffer[] = [];
  let received = 0;
  const finish = (err?: unknown) => {
    req.off('data', onData);
    req.off('end', onEnd);
    req.off('error', onError);
    req.off('close', onClose);
    next(err);
  };
  const onData = (chunk: Buffer) => {
    chunks.push(chunk);
    received += chunk.length;
  };
  const onEnd = () => {
    if (received !== length)
      return finish(bodyError(400, 'request.size.invalid', 'request size did not match content length'));
    const text = chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks, received).toString('utf8');
    // Like body-parser's decoder: a leading byte-order mark is not part of the text.
    req.body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
    finish();
  };
  const onError = (err: Error) => finish(bodyError(400, 'request.aborted', err.message));
  // The client went away mid-body: nothing can answer it, but the chain must still end.
  const onClose = () => finish(bodyError(400, 'request.aborted', 'request aborted'));
  req.on('data', onData);
  req.on('end', onEnd);
  req.on('error', onError);
  req.on('close', onClose);
}

function bodyError(status: number, type: string, message: string): Error {
  return Object.assign(new Error(message), { status, statusCode: status, type, expose: true });
}

/** Body-reader failures: oversized → 413, undecodable → parse error; anything else passes on. */
export function jsonRpcBodyErrors(maxBytes: number): ErrorRequestHandler {
  return (err: unknown, _req, res, next) => {
    const type = (err as { type?: string }).type;
    if (type === 'entity.too.large')
      return sendJsonRpcError(res, 413, JsonRpcCode.InvalidRequest, `Request body exceeds ${maxBytes} bytes`);
    if (type?.startsWith('entity.') || type === 'encoding.unsupported' || type === 'charset.unsupported') {
      return sendJsonRpcError(res, 400, JsonRpcCode.ParseError, 'Parse error: unreadable request body');
    }
    next(err);
  };
}

/**
 * One JSON-RPC 2.0 message, or undefined after answering the error: 415 for another content type,
 * 400 -32700 for bad JSON, 400 -32600 for a batch (removed from MCP in 2025-06-18) or a non-message.
 */
export function parseJsonRpcBody(req: Request, res: Response): JSONRPCMessage | undefined {
  // The reader sets a text body exactly when the request had one of type application/json.
  if (typeof req.body !== 'string') {
    sendJsonRpcError(
      res,
      415,
      JsonRpcCode.InvalidRequest,
      'Unsupported Media Type: Content-Type must be application/json',
    );
    return undefined;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(req.body);
  } catch {
    sendJsonRpcError(res, 400, JsonRpcCode.ParseError, 'Parse error: body is not valid JSON');
    return undefined;
  }
  if (Array.isArray(raw)) {
    sendJsonRpcError(res, 400, JsonRpcCode.InvalidRequest, 'Invalid Request: batches are not supported');
    return undefined;
  }
  if (!isSpecType.JSONRPCMessage(raw)) {
    const id = (raw as { id?: unknown } | null)?.id;
    sendJsonRpcError(
      res,
      400,
      JsonRpcCode.InvalidRequest,
      'Invalid Request: not a JSON-RPC 2.0 message',
      typeof id === 'string' || typeof id === 'number' ? id : null,
    );
    return undefined;
  }
  return raw;
}
