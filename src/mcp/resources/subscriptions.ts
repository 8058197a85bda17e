/**
 * Forwards change events from the process-wide bus (`ctx.events`; in the HTTP deployment every
 * instance's events, through Redis) to a 2025 session: `notifications/resources/updated` for the
 * URIs it subscribed to, and the list_changed notifications of the lists this server announces as
 * changing (tools, prompts). These notifications are not tied to a request (no related request),
 * so they go to the session's GET stream wherever that is held. 2026-07-28 clients get the same
 * events on their `subscriptions/listen` streams instead (the SDK's listen router).
 */
import type { Server } from '@modelcontextprotocol/server';
import type { McpServerContext, McpSession } from '../context.js';

/** Returns the function that unhooks the listener. */
export function forwardChanges(server: Server, context: McpServerContext, session: McpSession): () => void {
  const deliver = (send: () => Promise<void>) =>
    void send().catch((err: unknown) => context.log.debug({ err, sessionId: session.id }, 'change notification not delivered'));
  return context.events.subscribe((event) => {
    switch (event.kind) {
      case 'resource_updated':
        return deliver(async () => {
          const subscribed = await session.state.subscriptions();
          if (subscribed.includes(event.uri)) await server.sendResourceUpdated({ uri: event.uri });
        });
      case 'tools_list_changed':
        return deliver(() => server.sendToolListChanged());
      case 'prompts_list_changed':
        return deliver(() => server.sendPromptListChanged());
      case 'resources_list_changed':
        // The resource list never changes here, and the capability does not announce it.
        return;
    }
  });
}
