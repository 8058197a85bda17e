/**
 * HTTP-level failures of the MCP endpoints answer with a JSON-RPC error body (Streamable HTTP
 * transport, spec 2025-11-25), so a client always gets something it can parse. One place maps
 * them, and the codes mean the same thing everywhere.
 */
import type { Response } from 'express';

export const JsonRpcCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  /** Server-defined: generic server error (limits, unavailability). */
  ServerError: -32000,
  /** Server-defined: the session does not exist (any more) for this caller. */
  SessionNotFound: -32001,
} as const;

export function jsonRpcErrorBody(code: number, message: string, id: string | number | null = null) {
  return { jsonrpc: '2.0' as const, error: { code, message }, id };
}

export function sendJsonRpcError(
  res: Response,
  status: number,
  code: number,
  message: string,
  id: string | number | null = null,
): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.status(status).json(jsonRpcErrorBody(code, message, id));
}

/** The session does not exist (any more) for this caller: unknown, ended, or someone else's. */
export function sendSessionNotFound(res: Response, id: string | number | null = null): void {
  sendJsonRpcError(res, 404, JsonRpcCode.SessionNotFound, 'Session not found', id);
}

/** The session's host cannot be reached right now (a takeover in progress, Redis failing over). */
export function sendSessionUnavailable(res: Response, id: string | number | null = null): void {
  res.setHeader('Retry-After', '1');
  sendJsonRpcError(res, 503, JsonRpcCode.ServerError, 'Session host unavailable, retry shortly', id);
}

/** A message the mesh could not hand to the session's host (see SessionStreams: `gone`, `unavailable`). */
export function sendUndelivered(
  res: Response,
  result: 'gone' | 'unavailable',
  id: string | number | null = null,
): void {
  if (result === 'gone') sendSessionNotFound(res, id);
  else sendSessionUnavailable(res, id);
}
