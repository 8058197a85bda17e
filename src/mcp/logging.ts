/**
 * MCP logging (2025-11-25 server/utilities/logging). The SDK's `Server` keeps the level set by
 * `logging/setLevel` in an in-memory map, which a session rebuilt on another instance would lose,
 * so we replace that handler (Protocol.setRequestHandler replaces by design) and keep the level in
 * the session state. Every message we send is filtered against it here.
 */
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import {
  SetLevelRequestSchema,
  type LoggingLevel,
  type ServerNotification,
  type ServerRequest,
} from '@modelcontextprotocol/sdk/types.js';
import type { McpSessionContext } from './context.js';

/** RFC 5424 severities in ascending order, as the spec lists them. */
const SEVERITY: Record<LoggingLevel, number> = {
  debug: 0,
  info: 1,
  notice: 2,
  warning: 3,
  error: 4,
  critical: 5,
  alert: 6,
  emergency: 7,
};

/** A client that never set a level gets everything (the SDK's behaviour too). */
export function isLevelEnabled(level: LoggingLevel, threshold: LoggingLevel | undefined): boolean {
  return threshold === undefined || SEVERITY[level] >= SEVERITY[threshold];
}

export function installLoggingHandlers(server: Server, ctx: McpSessionContext): void {
  server.setRequestHandler(SetLevelRequestSchema, async (request) => {
    await ctx.state.setLogLevel(request.params.level);
    return {};
  });
}

export type RequestLogger = (level: LoggingLevel, data: unknown) => Promise<void>;

/**
 * Logs that belong to one request travel on that request's stream (`relatedRequestId`), so they
 * reach the client even when it has no GET stream open.
 */
export function requestLogger(
  ctx: McpSessionContext,
  extra: RequestHandlerExtra<ServerRequest, ServerNotification>,
  logger: string,
): RequestLogger {
  return async (level, data) => {
    if (!isLevelEnabled(level, ctx.state.getLogLevel())) return;
    await extra.sendNotification({ method: 'notifications/message', params: { level, logger, data } });
  };
}

const DEMO_LEVELS: LoggingLevel[] = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'];

/**
 * The optional periodic demo log stream. It is unrelated to any request, so it goes to the
 * session's GET stream (the routing layer delivers it wherever that stream is held).
 * Returns the stop function; the caller owns the timer.
 */
export function startPeriodicLogs(server: Server, ctx: McpSessionContext, intervalMs: number): () => void {
  let tick = 0;
  const timer = setInterval(() => {
    const level = DEMO_LEVELS[tick++ % DEMO_LEVELS.length]!;
    if (!isLevelEnabled(level, ctx.state.getLogLevel())) return;
    server
      .notification({
        method: 'notifications/message',
        params: { level, logger: 'periodic', data: `Periodic ${level} message #${tick}` },
      })
      .catch((err: unknown) => ctx.log.debug({ err, sessionId: ctx.sessionId }, 'periodic log not delivered'));
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
