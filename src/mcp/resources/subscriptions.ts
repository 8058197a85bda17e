/**
 * Forwards "resource changed" events from the process-wide feed to this session as
 * `notifications/resources/updated`, for subscribed URIs only. The notification is not tied to a
 * request (no relatedRequestId), so it goes to the session's GET stream wherever that is held.
 */
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { McpSessionContext } from '../context.js';
import type { ResourceUpdateFeed } from '../resourceUpdates.js';

/** Returns the function that unhooks the listener. */
export function forwardResourceUpdates(server: Server, ctx: McpSessionContext, feed: ResourceUpdateFeed): () => void {
  return feed.onUpdated((uri) => {
    void (async () => {
      const subscribed = await ctx.state.subscriptions();
      if (!subscribed.includes(uri)) return;
      await server.sendResourceUpdated({ uri });
    })().catch((err: unknown) => ctx.log.debug({ err, sessionId: ctx.sessionId }, 'resource update not delivered'));
  });
}
