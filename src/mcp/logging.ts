/**
 * MCP logging (2025-11-25 server/utilities/logging). The SDK's `Server` keeps the level set by
 * `logging/setLevel` in an in-memory map, which a session rebuilt on another instance would lose,
 * so a session's server gets our handler instead (Protocol.setRequestHandler replaces by design)
 * and the level lives in the session state. Every message a session sends is filtered against it
 * here. A 2026-07-28 request has no session: its own `_meta` log level applies, and the SDK's
 * `ctx.mcpReq.log` implements exactly that (an absent level means no log messages).
 */
import type { LoggingLevel, Server, ServerContext } from '@modelcontextprotocol/server';
import type { McpServerContext, McpSession } from './context.js';

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

export function installLoggingHandlers(server: Server, session: McpSession): void {
  server.setRequestHandler('logging/setLevel', async (request) => {
    await session.state.setLogLevel(request.params.level);
    return {};
  });
}

export type RequestLogger = (level: LoggingLevel, data: unknown) => Promise<void>;

/**
 * Logs that belong to one request travel on that request's stream (the SDK relates them to the
 * request), so they reach the client even when it has no GET stream open.
 */
export function requestLogger(context: McpServerContext, sdk: ServerContext, logger: string): RequestLogger {
  const { session } = context;
  if (!session) return (level, data) => sdk.mcpReq.log(level, data, logger);
  return async (level, data) => {
    if (!isLevelEnabled(level, session.state.getLogLevel())) return;
    await sdk.mcpReq.notify({ method: 'notifications/message', params: { level, logger, data } });
  };
}

const DEMO_LEVELS: LoggingLevel[] = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'];

/**
 * The optional periodic demo log stream of a session. It is unrelated to any request, so it goes
 * to the session's GET stream (the routing layer delivers it wherever that stream is held).
 * Returns the stop function; the caller owns the timer.
 */
export function startPeriodicLogs(
  server: Server,
  context: McpServerContext,
  session: McpSession,
  intervalMs: number,
): () => void {
  let tick = 0;
  const timer = setInterval(() => {
    const level = DEMO_LEVELS[tick++ % DEMO_LEVELS.length]!;
    if (!isLevelEnabled(level, session.state.getLogLevel())) return;
    server
      .notification({
        method: 'notifications/message',
        params: { level, logger: 'periodic', data: `Periodic ${level} message #${tick}` },
      })
      .catch((err: unknown) => context.log.debug({ err, sessionId: session.id }, 'periodic log not delivered'));
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
