/**
 * The transport-agnostic MCP server: one factory that builds the "everything" `McpServer` with
 * every tool, resource, prompt and completion registered, for either protocol era:
 *   - a 2025-11-25 session (`ctx.session` set): Streamable HTTP through the Redis mesh, legacy
 *     HTTP+SSE and stdio connect it to their own `Transport`; it also gets the session-scoped
 *     surface (logging/setLevel, resources/subscribe, resource-update forwarding, the demo log
 *     stream), whose state lives in `ctx.session.state`;
 *   - one 2026-07-28 request (no session): the same tools, resources, prompts and completions.
 *
 * The features are installed as low-level handlers on `server.server` (see each module for why
 * McpServer's registerX cannot express them: pagination, icons, 2020-12 schemas, spec error
 * codes). McpServer therefore never installs its own handlers, and would throw if anyone later
 * called registerTool/registerResource/registerPrompt, which keeps a single way in.
 *
 * A session may be rebuilt on another instance by replaying its `initialize`; all state beyond
 * that lives in the session state. Every timer and listener created here is released when the
 * server closes.
 */
import { McpServer } from '@modelcontextprotocol/server';
import { ICONS } from './assets.js';
import type { McpServerContext } from './context.js';
import { installCompletions } from './completions.js';
import { installLoggingHandlers, startPeriodicLogs } from './logging.js';
import { ALL_PROMPTS } from './prompts/index.js';
import { installPrompts } from './prompts/registry.js';
import { installResourceHandlers, installSubscriptionHandlers } from './resources/handlers.js';
import { forwardResourceUpdates } from './resources/subscriptions.js';
import { HUMAN_TIMEOUT_MS } from './tools/clientRequests.js';
import { ALL_TOOLS } from './tools/index.js';
import { installTools } from './tools/registry.js';

export type { McpServerContext, McpSession } from './context.js';

export const SERVER_INFO = {
  name: 'mcp-scaled-server',
  title: 'MCP everything server (scaled)',
  version: '0.1.0',
  icons: ICONS.server,
};

export function createMcpServer(ctx: McpServerContext): McpServer {
  const server = new McpServer(SERVER_INFO, {
    // Only capabilities McpServer does not act on are declared here; the modules below declare
    // tools/resources/prompts/completions as they install their handlers.
    capabilities: { logging: {} },
    instructions:
      'Reference MCP server exercising every protocol feature (tools, resources with pagination and subscriptions, ' +
      'prompts, completions, logging, sampling, elicitation), horizontally scaled through Redis.',
    // A tool waiting for the client (sampling, elicitation) waits for a person.
    inputRequired: { roundTimeoutMs: HUMAN_TIMEOUT_MS },
  });
  const low = server.server;

  installTools(low, ctx, ALL_TOOLS);
  installResourceHandlers(low);
  installPrompts(low, ALL_PROMPTS);
  installCompletions(low, ALL_PROMPTS);

  const { session } = ctx;
  if (!session) return server;

  installLoggingHandlers(low, session);
  installSubscriptionHandlers(low, session);
  const releases: Array<() => void> = [];
  if (session.resourceUpdates) releases.push(forwardResourceUpdates(low, ctx, session, session.resourceUpdates));
  const logEvery = session.logMessageIntervalMs ?? 0;
  if (logEvery > 0) releases.push(startPeriodicLogs(low, ctx, session, logEvery));

  // Protocol calls `onclose` when the transport closes (server.close() or the peer going away).
  // Hosts that also need the hook must chain the previous value, not overwrite it.
  const previousOnClose = low.onclose;
  low.onclose = () => {
    for (const release of releases.splice(0)) release();
    previousOnClose?.();
  };
  return server;
}
