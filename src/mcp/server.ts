/**
 * The transport-agnostic MCP server: a factory that builds one `McpServer` per session with every
 * tool, resource, prompt and completion registered. Streamable HTTP (through Redis), legacy SSE
 * and stdio all connect the same server to their own `Transport`.
 *
 * The features are installed as low-level handlers on `server.server` (see each module for why
 * McpServer's registerX cannot express them: pagination, icons, 2020-12 schemas, spec error
 * codes). McpServer therefore never installs its own handlers, and would throw if anyone later
 * called registerTool/registerResource/registerPrompt, which keeps a single way in.
 *
 * A session may be rebuilt on another instance by replaying its `initialize`; all state beyond
 * that (log level, subscriptions) lives in `ctx.state`. Every timer and listener created here is
 * released when the server closes.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { ICONS } from './assets.js';
import type { McpSessionContext } from './context.js';
import { installCompletions } from './completions.js';
import { installLoggingHandlers, startPeriodicLogs } from './logging.js';
import { ALL_PROMPTS } from './prompts/index.js';
import { installPrompts } from './prompts/registry.js';
import { installResourceHandlers } from './resources/handlers.js';
import { forwardResourceUpdates } from './resources/subscriptions.js';
import { ALL_TOOLS } from './tools/index.js';
import { installTools } from './tools/registry.js';

export type { McpServerOptions, McpSessionContext } from './context.js';

export const SERVER_INFO = {
  name: 'mcp-scaled-server',
  title: 'MCP everything server (scaled)',
  version: '0.1.0',
  icons: ICONS.server,
};

export function createMcpServer(ctx: McpSessionContext): McpServer {
  const server = new McpServer(SERVER_INFO, {
    // Only capabilities McpServer does not act on are declared here; the modules below declare
    // tools/resources/prompts/completions as they install their handlers.
    capabilities: { logging: {} },
    instructions:
      'Reference MCP server exercising every protocol feature (tools, resources with pagination and subscriptions, ' +
      'prompts, completions, logging, sampling, elicitation), horizontally scaled through Redis.',
  });
  const low = server.server;

  installLoggingHandlers(low, ctx);
  installTools(low, ctx, ALL_TOOLS);
  installResourceHandlers(low, ctx);
  installPrompts(low, ALL_PROMPTS);
  installCompletions(low, ALL_PROMPTS);

  const releases: Array<() => void> = [];
  if (ctx.resourceUpdates) releases.push(forwardResourceUpdates(low, ctx, ctx.resourceUpdates));
  const logEvery = ctx.options?.logMessageIntervalMs ?? 0;
  if (logEvery > 0) releases.push(startPeriodicLogs(low, ctx, logEvery));

  // Protocol calls `onclose` when the transport closes (server.close() or the peer going away).
  // Hosts that also need the hook must chain the previous value, not overwrite it.
  const previousOnClose = low.onclose;
  low.onclose = () => {
    for (const release of releases.splice(0)) release();
    previousOnClose?.();
  };
  return server;
}
