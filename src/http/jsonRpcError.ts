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
