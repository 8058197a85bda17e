/**
 * The JSON-RPC body of a POSTed MCP message, read the same way by every endpoint that takes one
 * (Streamable HTTP `POST /mcp`, legacy HTTP+SSE `POST /message`): the raw text is kept, because
 * relays forward it to the session's host verbatim, and the parsed message decides the routing.
 */
import express, { type ErrorRequestHandler, type Request, type RequestHandler, type Response } from 'express';
import { JSONRPCMessageSchema, type JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { JsonRpcCode, sendJsonRpcError } from './jsonRpcError.js';

/** Reads an `application/json` body as text (`req.body`), up to `maxBytes`. */
export function jsonRpcBodyReader(maxBytes: number): RequestHandler {
  return express.text({ type: 'application/json', limit: maxBytes });
}

/** Body-reader failures: oversized → 413, undecodable → parse error; anything else passes on. */
export function jsonRpcBodyErrors(maxBytes: number): ErrorRequestHandler {
  return (err: unknown, _req, res, next) => {
    const type = (err as { type?: string }).type;
    if (type === 'entity.too.large') return sendJsonRpcError(res, 413, JsonRpcCode.InvalidRequest, `Request body exceeds ${maxBytes} bytes`);
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
  if (!req.is('application/json')) {
    sendJsonRpcError(res, 415, JsonRpcCode.InvalidRequest, 'Unsupported Media Type: Content-Type must be application/json');
    return undefined;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(typeof req.body === 'string' ? req.body : '');
  } catch {
    sendJsonRpcError(res, 400, JsonRpcCode.ParseError, 'Parse error: body is not valid JSON');
    return undefined;
  }
  if (Array.isArray(raw)) {
    sendJsonRpcError(res, 400, JsonRpcCode.InvalidRequest, 'Invalid Request: batches are not supported');
    return undefined;
  }
  const parsed = JSONRPCMessageSchema.safeParse(raw);
  if (!parsed.success) {
    const id = (raw as { id?: unknown } | null)?.id;
    sendJsonRpcError(res, 400, JsonRpcCode.InvalidRequest, 'Invalid Request: not a JSON-RPC 2.0 message', typeof id === 'string' || typeof id === 'number' ? id : null);
    return undefined;
  }
  return parsed.data;
}
