/**
 * The transport-agnostic MCP server: one factory that builds the "everything" `McpServer` with
 * every tool, resource, prompt and completion registered, for either protocol era:
 *   - a 2025-11-25 session (`ctx.session` set): Streamable HTTP through the Redis mesh, legacy
 *     HTTP+SSE and stdio connect it to their own `Transport`; it also gets the session-scoped
 *     surface (logging/setLevel, resources/subscribe, resource-update forwarding, the demo log
 *     stream), whose state lives in `ctx.session.state`;
 *   - one 2026-07-28 request (no session): the same tools, resources, prompts and completions,
 *     and, when `ctx.tasks` is given, the tasks extension (tasks/get, tasks/update, tasks/cancel).
 *     Change notifications reach such clients on `subscriptions/listen` streams, which the SDK's
 *     HTTP entry serves from the shared event bus, not from this server.
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
import { McpServer, SUPPORTED_PROTOCOL_VERSIONS, type ServerOptions } from '@modelcontextprotocol/server';
import { ICONS } from './assets.js';
import type { McpServerContext } from './context.js';
import { installCompletions } from './completions.js';
import { installLoggingHandlers, startPeriodicLogs } from './logging.js';
import { ALL_PROMPTS } from './prompts/index.js';
import { installPrompts } from './prompts/registry.js';
import { installResourceHandlers, installSubscriptionHandlers } from './resources/handlers.js';
import { forwardChanges } from './resources/subscriptions.js';
import { installTaskHandlers } from './tasks/handlers.js';
import { HUMAN_TIMEOUT_MS } from './tools/clientRequests.js';
import { ALL_TOOLS } from './tools/index.js';
import { installTools } from './tools/registry.js';

export type { McpServerContext };

/**
 * The stateless revisions this server serves (spec 2026-07-28 basic/versioning). Listed in every
 * sessionless server's `supportedProtocolVersions`: that is what lets a per-request transport
 * classified at one of them bind the server to it on connect (the SDK's documented binding for
 * `PerRequestHTTPServerTransport`), and what `server/discover` advertises.
 */
export const MODERN_PROTOCOL_VERSIONS: readonly string[] = ['2026-07-28'];

export const SERVER_INFO = {
  name: 'mcp-scaled-server',
  title: 'MCP everything server (scaled)',
  version: '0.1.0',
  icons: ICONS.server,
};

/**
 * `ttlMs`/`cacheScope` of the cacheable 2026-07-28 results (SEP-2549; 2025 responses never carry
 * them). The lists and the discovery result are the same for every caller and change only with a
 * deployment (the conformance triggers announce changes without changing anything), so shared
 * caches may keep them a minute. Resource contents are private and not cached: the demo resources
 * are announced as changing every few seconds.
 */
const LIST_HINT = { ttlMs: 60_000, cacheScope: 'public' } as const;
export const CACHE_HINTS: ServerOptions['cacheHints'] = {
  'tools/list': LIST_HINT,
  'prompts/list': LIST_HINT,
  'resources/list': LIST_HINT,
  'resources/templates/list': LIST_HINT,
  'server/discover': LIST_HINT,
  'resources/read': { ttlMs: 0, cacheScope: 'private' },
};

/** The published inputSchema of every tool that mirrors an argument into a header (SEP-2243). */
const HEADER_MIRRORING_SCHEMAS = new Map(
  ALL_TOOLS.filter((t) =>
    Object.values(t.definition.inputSchema.properties ?? {}).some((p) => 'x-mcp-header' in (p as object)),
  ).map((t) => [t.definition.name, t.definition.inputSchema as Record<string, unknown>]),
);

/**
 * McpServer, told the inputSchema of our tools. The SDK's HTTP entry checks a 2026-07-28
 * tools/call's `Mcp-Param-*` headers against the `x-mcp-header` declarations of the tool's
 * inputSchema (SEP-2243: 400 with -32020 on a missing, malformed or disagreeing header), and it
 * asks the server for that schema through `toolInputSchemaJson`, which only knows tools added
 * with registerTool. Ours are low-level handlers (see above), so this answers from the very
 * definitions tools/list publishes: the SDK's validator runs, not a copy of it. Only tools that
 * declare a header are answered, so other calls skip the check entirely.
 */
class EverythingServer extends McpServer {
  override toolInputSchemaJson(name: string): Record<string, unknown> | undefined {
    return HEADER_MIRRORING_SCHEMAS.get(name);
  }
}

export function createMcpServer(ctx: McpServerContext): McpServer {
  const server = new EverythingServer(SERVER_INFO, {
    // Only capabilities McpServer does not act on are declared here; the modules below declare
    // tools/resources/prompts/completions as they install their handlers.
    capabilities: { logging: {} },
    instructions:
      'Reference MCP server exercising every protocol feature (tools, resources with pagination and subscriptions, ' +
      'prompts, completions, logging, sampling, elicitation), horizontally scaled through Redis.',
    // A tool waiting for the client (sampling, elicitation) waits for a person.
    inputRequired: { roundTimeoutMs: HUMAN_TIMEOUT_MS },
    // Every round that echoes requestState is verified before the handler runs (requestState.ts).
    requestState: { verify: (state, sdk) => ctx.requestState.verify(state, sdk) },
    cacheHints: CACHE_HINTS,
    // A session negotiates its 2025 revision through initialize; a sessionless server is bound to a
    // stateless revision per request (see MODERN_PROTOCOL_VERSIONS).
    ...(ctx.session
      ? {}
      : { supportedProtocolVersions: [...SUPPORTED_PROTOCOL_VERSIONS, ...MODERN_PROTOCOL_VERSIONS] }),
  });
  const low = server.server;

  installTools(low, ctx, ALL_TOOLS);
  installResourceHandlers(low);
  installPrompts(low, ALL_PROMPTS);
  installCompletions(low, ALL_PROMPTS);

  const { session } = ctx;
  if (!session) {
    if (ctx.tasks) installTaskHandlers(low, ctx.tasks);
    return server;
  }

  installLoggingHandlers(low, session);
  installSubscriptionHandlers(low, session);
  const releases: Array<() => void> = [forwardChanges(low, ctx, session)];
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
