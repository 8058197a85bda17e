/**
 * Forwards change events from the process-wide bus (`ctx.events`; in the HTTP deployment every
 * instance's events, through Redis) to a 2025 session: `notifications/resources/updated` for the
 * URIs it subscribed to, and the list_changed notifications of the lists this server announces as
 * changing (tools, prompts). These notifications are not tied to a request (no related request),
 * so they go to the session's GET stream wherever that is held. 2026-07-28 clients get the same
 * events on their `subscriptions/listen` streams instead (the SDK's listen router).
 */
import type { JSONRPCNotification, Server, ServerEvent } from '@modelcontextprotocol/server';
import type { McpServerContext, McpSession } from '../context.js';

/**
 * The notification a 2025 session gets for a change event, if any. Shared by a live session's
 * server (below) and the routing layer, which sends it to passivated sessions without rebuilding
 * their server (src/routing/instance.ts).
 */
export async function changeNotification(
  event: ServerEvent,
  subscriptions: () => Promise<string[]>,
): Promise<JSONRPCNotification | undefined> {
  switch (event.kind) {
    case 'resource_updated':
      return (await subscriptions()).includes(event.uri)
        ? { jsonrpc: '2.0', method: 'notifications/resources/updated', params: { uri: event.uri } }
        : undefined;
    case 'tools_list_changed':
      return { jsonrpc: '2.0', method: 'notifications/tools/list_changed' };
    case 'prompts_list_changed':
      return { jsonrpc: '2.0', method: 'notifications/prompts/list_changed' };
    case 'resources_list_changed':
      // The resource list never changes here, and the capability does not announce it.
      return undefined;
  }
}

/** Returns the function that unhooks the listener. */
export function forwardChanges(server: Server, context: McpServerContext, session: McpSession): () => void {
  const deliver = (send: () => Promise<void>) =>
    void send().catch((err: unknown) =>
      context.log.debug({ err, sessionId: session.id }, 'change notification not delivered'),
    );
  return context.events.subscribe((event) =>
    deliver(async () => {
      const message = await changeNotification(event, () => session.state.subscriptions());
      if (message) await server.notification({ method: message.method, params: message.params });
    }),
  );
}
