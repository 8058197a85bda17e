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
 *
 * One shortcut, taken before the classifier and equal to it by construction (lanes.test.ts checks
 * the two against each other): a message whose params carry no envelope claim, under no header
 * or a header naming a supported pre-2026 revision exactly, is 2025 traffic by every rule of the
 * classifier. That is nearly every message of a session, and the classifier would first try the
 * message as a result and as an error response (two failing schema parses) to find it out.
 */
import type { IncomingHttpHeaders } from 'node:http';
import {
  classifyInboundRequest,
  PROTOCOL_VERSION_META_KEY,
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
  return plainlySessionTraffic(single(headers[VERSION_HEADER]), message) ? SESSION : classifiedLane(headers, message);
}

/** The lane of a POST by the SDK's classifier alone: postLane without its shortcut (exported for the test). */
export function classifiedLane(headers: IncomingHttpHeaders, message: JSONRPCMessage): Lane {
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

/**
 * The shortcut: no envelope claim in the body (`params._meta` holds no protocol-version key), and
 * no header or one naming a supported 2025-era revision verbatim (the classifier trims a header's
 * whitespace first; such a header takes the long way).
 */
function plainlySessionTraffic(version: string | undefined, message: JSONRPCMessage): boolean {
  if (version !== undefined && !(version < FIRST_MODERN_VERSION && isSupported(version))) return false;
  const params = (message as { params?: unknown }).params;
  if (params === undefined) return true;
  // Anything but plain objects (arrays, say) takes the long way: the classifier refuses some.
  if (!isPlainObject(params)) return false;
  const meta = params['_meta'];
  return meta === undefined || (isPlainObject(meta) && !(PROTOCOL_VERSION_META_KEY in meta));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
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
