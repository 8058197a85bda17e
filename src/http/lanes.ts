/**
 * Which lane serves a request to /mcp, decided in one place per HTTP method, from the protocol
 * headers and (for POST) the parsed body. Spec 2026-07-28 basic/versioning: a request whose
 * `_meta` carries the per-request protocol version belongs to the stateless 2026-07-28 era;
 * `initialize` and everything without that envelope belong to a 2025-11-25 session.
 *
 * The era of a POST is the SDK's own verdict (`classifyInboundRequest`, the classification step
 * `createMcpHandler` and `isLegacyRequest` run), so the two lanes can never disagree with the SDK
 * about where a request belongs. Everything the classifier does not call legacy goes to the
 * modern lane, including malformed modern claims: that lane answers them in the spec's own terms
 * (`-32602` for a bad envelope, `-32020` for header/body mismatches, `-32022` listing the
 * supported versions).
 */
import type { IncomingHttpHeaders } from 'node:http';
import {
  classifyInboundRequest,
  SUPPORTED_PROTOCOL_VERSIONS,
  type InboundLadderRejection,
  type InboundModernRoute,
  type JSONRPCMessage,
} from '@modelcontextprotocol/server';
import { JsonRpcCode } from './jsonRpcError.js';

export const VERSION_HEADER = 'mcp-protocol-version';

/** The first revision of the stateless era; revision ids are ISO dates, so they compare as strings. */
const FIRST_MODERN_VERSION = '2026-07-28';

/** How the endpoint answers instead of serving, as HTTP status and JSON-RPC error. */
export interface Refusal {
  status: number;
  code: number;
  message: string;
  /** `Allow` header value, for 405. */
  allow?: string;
}

/**
 * A 2026-07-28 request carries the classifier's verdict, so the modern lane does not classify it
 * again: its route (message, revision) or the ladder's refusal.
 */
export type ModernVerdict = InboundModernRoute | InboundLadderRejection;

export type Lane =
  { lane: 'session' } | { lane: 'modern'; verdict: ModernVerdict } | { lane: 'refused'; refusal: Refusal };

const SESSION: Lane = { lane: 'session' };

/** The lane of a POST, from its parsed JSON-RPC message. */
export function postLane(headers: IncomingHttpHeaders, message: JSONRPCMessage): Lane {
  const version = single(headers[VERSION_HEADER]);
  const outcome = classifyInboundRequest({
    httpMethod: 'POST',
    protocolVersionHeader: version,
    mcpMethodHeader: single(headers['mcp-method']),
    mcpNameHeader: single(headers['mcp-name']),
    body: message,
  });
  if (outcome.kind !== 'legacy') return { lane: 'modern', verdict: outcome };
  // A 2025 session's message: its header, when present, must name a revision sessions speak.
  return version === undefined || isSupported(version) ? SESSION : unsupported(version);
}

/** The lane of a GET (standalone stream, resumption) or DELETE (session end): body-less 2025 operations. */
export function sessionOperationLane(headers: IncomingHttpHeaders): Lane {
  const version = single(headers[VERSION_HEADER]);
  if (version === undefined || isSupported(version)) return SESSION;
  // The stateless era has no session operations (2026-07-28 basic/transports): 405, POST only.
  if (version >= FIRST_MODERN_VERSION) return refused(405, 'Method not allowed for this protocol version', 'POST');
  return unsupported(version);
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function isSupported(version: string): boolean {
  return SUPPORTED_PROTOCOL_VERSIONS.includes(version);
}

function unsupported(version: string): Lane {
  return refused(
    400,
    `Bad Request: unsupported protocol version ${version.slice(0, 40)} (supported: ${SUPPORTED_PROTOCOL_VERSIONS.join(', ')})`,
  );
}

function refused(status: number, message: string, allow?: string): Lane {
  return {
    lane: 'refused',
    refusal: { status, code: JsonRpcCode.InvalidRequest, message, ...(allow ? { allow } : {}) },
  };
}
