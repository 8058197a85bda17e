/**
 * What a 2026-07-28 request declares about its client in its `_meta` envelope (spec 2026-07-28
 * basic/versioning). The SDK lifts the envelope to `ctx.mcpReq.envelope` after validating it, but
 * its published type for the envelope is empty, so the one read this server needs is typed here.
 */
import {
  CLIENT_CAPABILITIES_META_KEY,
  type ClientCapabilities,
  type ServerContext,
} from '@modelcontextprotocol/server';

/** The request's declared client capabilities (none when it declared nothing). */
export function declaredCapabilities(sdk: ServerContext): ClientCapabilities {
  const envelope = sdk.mcpReq.envelope as Record<string, unknown> | undefined;
  return (envelope?.[CLIENT_CAPABILITIES_META_KEY] as ClientCapabilities | undefined) ?? {};
}
