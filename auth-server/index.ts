/**
 * Entry point of the standalone authorization server (`npm run start:auth-server`,
 * `npm run dev:auth-server`). Graceful on SIGTERM/SIGINT: stops accepting, lets in-flight
 * requests finish, releases Redis.
 */
import { createLogger } from '../src/observability/logger.js';
import { loadAuthServerConfig } from './config.js';
import { startAuthServer } from './server.js';

const cfg = loadAuthServerConfig(process.env);
const log = createLogger(cfg.shared.LOG_LEVEL, { name: 'auth-server' });
const running = await startAuthServer(cfg, log);

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    running.close().then(
      () => process.exit(0),
      (err: Error) => {
        log.error({ err: err.message }, 'unclean shutdown');
        process.exit(1);
      },
    );
  });
}
