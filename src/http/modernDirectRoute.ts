/**
 * Which 2026-07-28 requests the modern lane answers directly (a pooled server and a
 * NodeModernExchange, see modernLane.ts) and which it leaves to the SDK's entry, `createMcpHandler`.
 *
 * The entry runs some rungs of the validation ladder itself before it dispatches; the protocol
 * layer runs the rest at dispatch, and those the direct path gets as they are (a refusal there is
 * handed back to the entry, NodeModernExchange). For the entry's own rungs the SDK exports no
 * validator, so the direct path takes only requests for which each of them has nothing to say,
 * and sends everything else to the entry, which answers it:
 *   - supported revision: only the revisions our servers bind (MODERN_PROTOCOL_VERSIONS);
 *   - Content-Type: `isJsonContentType`, the SDK's own predicate (415 otherwise);
 *   - standard headers (SEP-2243): `MCP-Protocol-Version` and `Mcp-Method` present (the classifier
 *     has already refused values that disagree with the body) and, for the methods whose name it
 *     mirrors, `Mcp-Name` present and equal to the body's value as it stands (an encoded,
 *     differing or missing value goes to the entry);
 *   - client capabilities a method requires: none of the methods below requires one;
 *   - `Mcp-Param-*` (SEP-2243): only tools whose inputSchema declares no mirrored header, asked
 *     through `toolInputSchemaJson`, the very method the entry asks;
 *   - scope challenges: our servers register none (their features are low-level handlers).
 * `subscriptions/listen` (the entry's listen router owns it), notifications, the tasks methods and
 * every other method go to the entry. src/http/modernLane.test.ts sends both ways a matrix of
 * valid and invalid requests and requires identical answers: it is what catches an SDK upgrade
 * that moves a rung.
 */
import type { IncomingHttpHeaders } from 'node:http';
import {
  isJsonContentType,
  type InboundModernRoute,
  type JSONRPCRequest,
  type McpServer,
} from '@modelcontextprotocol/server';
import { MODERN_PROTOCOL_VERSIONS } from '../mcp/server.js';
import type { ModernVerdict } from './lanes.js';

/** A modern request the direct path may serve. */
export type DirectRoute = Extract<InboundModernRoute, { messageKind: 'request' }>;

/** The methods served directly, each with the body field its `Mcp-Name` header mirrors (SEP-2243). */
const DIRECT_METHODS: ReadonlyMap<string, 'name' | 'uri' | undefined> = new Map([
  ['tools/call', 'name'],
  ['prompts/get', 'name'],
  ['resources/read', 'uri'],
  ['tools/list', undefined],
  ['prompts/list', undefined],
  ['resources/list', undefined],
  ['resources/templates/list', undefined],
  ['completion/complete', undefined],
  ['server/discover', undefined],
]);

/** The Base64 form of a header value (SEP-2243); decoding it is the entry's job. */
const ENCODED_VALUE_PREFIX = '=?';

/** The route of a request the direct path may serve, or undefined when the entry must answer it. */
export function directRoute(verdict: ModernVerdict, headers: IncomingHttpHeaders): DirectRoute | undefined {
  if (verdict.kind !== 'modern' || verdict.messageKind !== 'request') return undefined;
  const revision = verdict.classification.revision;
  if (revision === undefined || !MODERN_PROTOCOL_VERSIONS.includes(revision)) return undefined;
  if (!isJsonContentType(headers['content-type'])) return undefined;
  if (headers['mcp-protocol-version'] === undefined || headers['mcp-method'] === undefined) return undefined;
  const { method, params } = verdict.message;
  if (!DIRECT_METHODS.has(method)) return undefined;
  const field = DIRECT_METHODS.get(method);
  if (field !== undefined) {
    const value = params?.[field];
    const name = headers['mcp-name'];
    if (typeof value !== 'string' || name !== value || name.startsWith(ENCODED_VALUE_PREFIX)) return undefined;
  }
  return verdict;
}

/** Whether the entry must check this call's `Mcp-Param-*` headers: the tool declares some. */
export function declaresParamHeaders(server: McpServer, message: JSONRPCRequest): boolean {
  if (message.method !== 'tools/call') return false;
  const name = message.params?.['name'];
  return typeof name === 'string' && server.toolInputSchemaJson(name) !== undefined;
}
