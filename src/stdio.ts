/**
 * The stdio transport: one MCP session over stdin/stdout for editor integrations and quick local
 * testing. No HTTP, no auth, no Redis: the process is the session, owned by whoever started it.
 *
 * stdout carries JSON-RPC and nothing else (MCP 2025-11-25 basic/transports §stdio: the server
 * MUST NOT write anything to stdout that is not a valid MCP message), so every log line goes to
 * stderr, which the spec lets clients capture or ignore.
 *
 * Run it as `npm start -- --stdio` (src/index.ts calls `runStdio`) or directly:
 * `node --import tsx src/stdio.ts`.
 */
import type { Readable, Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { pino } from 'pino';
import { EnvSchema } from './config.js';
import { createLogger, type Logger } from './observability/logger.js';
import type { McpServerOptions } from './mcp/context.js';
import { InProcessResourceUpdateFeed } from './mcp/resourceUpdates.js';
import { createMcpServer } from './mcp/server.js';
import { InMemorySessionState } from './mcp/sessionState.js';

export const STDIO_SESSION_ID = 'stdio';
/** The local user owning the stdio session (the person who launched the process). */
export const STDIO_USER_ID = 'local';

export interface StdioOptions {
  /** Defaults to a logger on fd 2 at LOG_LEVEL (from the environment, default info). */
  log?: Logger;
  stdin?: Readable;
  stdout?: Writable;
  /** Options of the everything server (e.g. the demo log-message interval). */
  server?: McpServerOptions;
  /** End the session on SIGINT/SIGTERM. Default true; embedders that own signals pass false. */
  handleSignals?: boolean;
}

/**
 * Serves one session until stdin ends, the transport fails, or a signal arrives; resolves once
 * the server has closed and released its timers.
 */
export async function runStdio(options: StdioOptions = {}): Promise<void> {
  const log = (options.log ?? stderrLogger()).child({ transport: 'stdio' });
  const stdin = options.stdin ?? process.stdin;
  const stdout = options.stdout ?? process.stdout;

  const server = createMcpServer({
    sessionId: STDIO_SESSION_ID,
    userId: STDIO_USER_ID,
    state: new InMemorySessionState(),
    log,
    // Single process: resource-updated events stay in memory.
    resourceUpdates: new InProcessResourceUpdateFeed(),
    options: options.server,
  });
  const transport = new StdioServerTransport(stdin, stdout);

  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  let closing = false;
  const close = (reason: string) => {
    if (closing) return;
    closing = true;
    log.info({ reason }, 'stdio session ending');
    server.close().then(finish, (err: unknown) => {
      log.error({ err }, 'error while closing the stdio session');
      finish();
    });
  };

  // The SDK transport does not watch for end of input; the client closing our stdin ends the session.
  const onEnd = () => close('stdin closed');
  // EPIPE on stdout: the client went away without closing stdin first.
  const onStdoutError = (err: Error) => {
    log.warn({ err: err.message }, 'stdout failed');
    close('stdout error');
  };
  const onSignal = (signal: NodeJS.Signals) => close(signal);
  stdin.once('end', onEnd);
  stdin.once('close', onEnd);
  stdout.on('error', onStdoutError);
  const handleSignals = options.handleSignals ?? true;
  if (handleSignals) {
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }

  transport.onerror = (err) => log.warn({ err: err.message }, 'stdio transport error');
  // Chain whatever the server installed: onclose also fires when the server side closes itself.
  const previousOnClose = transport.onclose;
  await server.connect(transport);
  const protocolOnClose = transport.onclose;
  transport.onclose = () => {
    protocolOnClose?.();
    previousOnClose?.();
    close('transport closed');
  };
  log.info({ sessionId: STDIO_SESSION_ID }, 'stdio session started');

  try {
    await finished;
  } finally {
    stdin.off('end', onEnd);
    stdin.off('close', onEnd);
    stdout.off('error', onStdoutError);
    if (handleSignals) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    log.info('stdio session ended');
  }
}

/** pino on fd 2, synchronous so the last lines are not lost when the process exits. */
function stderrLogger(env: NodeJS.ProcessEnv = process.env): Logger {
  const level = EnvSchema.shape.LOG_LEVEL.parse(env['LOG_LEVEL'] || undefined);
  // SonicBoom is a pino destination but not a full Node Writable; createLogger hands it to pino as is.
  const fd2 = pino.destination({ fd: 2, sync: true }) as unknown as NodeJS.WritableStream;
  return createLogger(level, { destination: fd2 });
}

function isEntryPoint(): boolean {
  const entry = process.argv[1];
  return entry !== undefined && import.meta.url === pathToFileURL(entry).href;
}

if (isEntryPoint()) {
  runStdio().then(
    () => {
      // Anything still holding the event loop (a tool's timer) must not keep an orphan around.
      setTimeout(() => process.exit(0), 1000).unref();
    },
    (err: unknown) => {
      process.stderr.write(`stdio server failed: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
