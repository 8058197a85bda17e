/**
 * Which lane serves a request to /mcp, decided in one place per HTTP method, from the protocol
 * headers and (for POST) the parsed body. Spec 2026-07-28 basic/versioning: a request whose
 * `_meta` carries the per-request protocol version belongs to the stateless 2026-07-28 era;
 * `initialize` and everything without that envelope belong to a 2025-11-25 session, which the
 * Redis mesh serves.
 *
 * The 2026-07-28 lane is not served yet: its traffic gets the answers the 2026 spec prescribes
 * for a legacy-only server, so era-detecting clients fall back to `initialize` (405 on GET and
 * DELETE; on POST a 400 whose body is a plain JSON-RPC error, not a modern
 * `UnsupportedProtocolVersion` one). Serving it means: classify the claim with the SDK's
 * `classifyInboundRequest` (its rejections carry the spec's codes) and hand modern requests to a
 * per-request handler, here.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { PROTOCOL_VERSION_META_KEY, SUPPORTED_PROTOCOL_VERSIONS, type JSONRPCMessage } from '@modelcontextprotocol/server';
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

export type Lane = { lane: 'session' } | { lane: 'refused'; refusal: Refusal };

const SESSION: Lane = { lane: 'session' };

/** The lane of a POST, from its parsed JSON-RPC message. */
export function postLane(headers: IncomingHttpHeaders, message: JSONRPCMessage): Lane {
  const version = headers[VERSION_HEADER];
  // A 2026-07-28 request: an envelope claim (even a malformed one: never served as a session's)
  // or a header naming a stateless-era revision.
  const claimed = envelopeVersion(message);
  if (claimed !== undefined || isModern(version)) return unsupported(claimed ?? version!);
  return version === undefined || isSupported(version) ? SESSION : unsupported(version);
}

/** The lane of a GET (standalone stream, resumption) or DELETE (session end): body-less 2025 operations. */
export function sessionOperationLane(headers: IncomingHttpHeaders): Lane {
  const version = headers[VERSION_HEADER];
  if (version === undefined || isSupported(version)) return SESSION;
  // The stateless era has no session operations (2026-07-28 basic/transports).
  if (isModern(version)) return refused(405, 'Method not allowed for this protocol version', 'POST');
  return unsupported(version);
}

/** The protocol version a message's `_meta` envelope claims, if it claims one. */
function envelopeVersion(message: JSONRPCMessage): unknown {
  const params = 'params' in message ? (message.params as { _meta?: Record<string, unknown> } | undefined) : undefined;
  return params?._meta?.[PROTOCOL_VERSION_META_KEY];
}

function isModern(version: string | string[] | undefined): boolean {
  return typeof version === 'string' && version >= FIRST_MODERN_VERSION;
}

function isSupported(version: string | string[]): boolean {
  return typeof version === 'string' && SUPPORTED_PROTOCOL_VERSIONS.includes(version);
}

function unsupported(version: unknown): Lane {
  return refused(400, `Bad Request: unsupported protocol version ${String(version).slice(0, 40)} (supported: ${SUPPORTED_PROTOCOL_VERSIONS.join(', ')})`);
}

function refused(status: number, message: string, allow?: string): Lane {
  return { lane: 'refused', refusal: { status, code: JsonRpcCode.InvalidRequest, message, ...(allow ? { allow } : {}) } };
}
