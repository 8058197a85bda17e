/**
 * Browser-facing guards for the MCP endpoints (spec 2025-11-25, transports: servers MUST validate
 * Origin). A present Origin that is not on the allow-list gets 403 — this, together with the Host
 * allow-list, is the DNS-rebinding defence. CORS answers preflights before any authentication and
 * exposes the headers browser clients need to read.
 */
import cors from 'cors';
import type { RequestHandler } from 'express';
import { JsonRpcCode, sendJsonRpcError } from './jsonRpcError.js';

export function originGuard(allowedOrigins: string[], allowedHosts: string[] | undefined): RequestHandler {
  const origins = new Set(allowedOrigins.map((o) => o.toLowerCase()));
  const hosts = allowedHosts && new Set(allowedHosts.map((h) => h.toLowerCase()));
  return (req, res, next) => {
    if (hosts) {
      const host = (req.headers.host ?? '').toLowerCase();
      const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':')[0]!;
      if (!hosts.has(name)) {
        sendJsonRpcError(res, 403, JsonRpcCode.InvalidRequest, 'Forbidden: Host header not allowed');
        return;
      }
    }
    const origin = req.headers.origin;
    if (origin !== undefined && !origins.has(origin.toLowerCase())) {
      sendJsonRpcError(res, 403, JsonRpcCode.InvalidRequest, 'Forbidden: Origin not allowed');
      return;
    }
    next();
  };
}

export function mcpCors(allowedOrigins: string[]): RequestHandler {
  return cors({
    origin: allowedOrigins,
    methods: ['GET', 'POST', 'DELETE', 'OPTIONS'],
    allowedHeaders: [
      'Authorization',
      'Content-Type',
      'Accept',
      'Mcp-Session-Id',
      'MCP-Protocol-Version',
      // 2026-07-28 requests name their method (and tool, prompt, resource or task) in headers
      // (SEP-2243); browser clients do not mirror Mcp-Param-* headers, so none are listed.
      'Mcp-Method',
      'Mcp-Name',
      'Last-Event-ID',
      'X-Request-Id',
    ],
    exposedHeaders: [
      'Mcp-Session-Id',
      'MCP-Protocol-Version',
      'WWW-Authenticate',
      'Retry-After',
      'RateLimit',
      'RateLimit-Policy',
    ],
    maxAge: 600,
  });
}
