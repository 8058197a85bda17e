/**
 * Forwards "resource changed" events from the process-wide feed to a session as
 * `notifications/resources/updated`, for subscribed URIs only. The notification is not tied to a
 * request (no related request), so it goes to the session's GET stream wherever that is held.
 */
import type { Server } from '@modelcontextprotocol/server';
import type { McpServerContext, McpSession } from '../context.js';
import type { ResourceUpdateFeed } from '../resourceUpdates.js';

/** Returns the function that unhooks the listener. */
export function forwardResourceUpdates(server: Server, context: McpServerContext, session: McpSession, feed: ResourceUpdateFeed): () => void {
  return feed.onUpdated((uri) => {
    void (async () => {
      const subscribed = await session.state.subscriptions();
      if (!subscribed.includes(uri)) return;
      await server.sendResourceUpdated({ uri });
    })().catch((err: unknown) => context.log.debug({ err, sessionId: session.id }, 'resource update not delivered'));
  });
}
