/**
 * Process entry point: `npm start` (HTTP, the default) or `npm start -- --stdio`.
 */
import { CliUsageError, helpText, parseCli } from './cli.js';
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './observability/logger.js';
import { RedisUnavailableError } from './redis/connections.js';
import { startServer } from './server.js';

async function main(): Promise<void> {
  const cli = parseCli(process.argv.slice(2));
  if (cli.help) {
    process.stdout.write(helpText() + '\n');
    return;
  }
  if (cli.transport === 'stdio') {
    const { runStdio } = await import('./stdio.js');
    await runStdio();
    return;
  }

  const config = loadConfig();
  const log = createLogger(config.LOG_LEVEL);
  process.on('unhandledRejection', (reason) => log.error({ err: reason }, 'unhandled promise rejection (a bug)'));

  const server = await startServer(config, log);
  log.info(
    { url: server.url, mcp: config.mcpUrl, authMode: config.AUTH_MODE, instance: server.routing.instanceId },
    'MCP server listening',
  );

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: draining in-flight requests');
    server
      .stop()
      .then(() => {
        log.info('shutdown complete');
        process.exit(0);
      })
      .catch((err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError || err instanceof RedisUnavailableError || err instanceof CliUsageError) {
    process.stderr.write(`error: ${err.message}\n`);
    if (err instanceof CliUsageError) process.stderr.write('run with --help for usage\n');
    process.exit(err instanceof CliUsageError ? 64 : 1);
  }
  process.stderr.write(`fatal: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
