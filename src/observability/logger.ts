/**
 * The one structured logger. Anything that might carry a credential is redacted here, so a stray
 * `log.info({ req })` cannot leak a bearer token, an authorization code or a client secret.
 */
import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  '*.access_token',
  '*.refresh_token',
  '*.id_token',
  '*.code',
  '*.code_verifier',
  '*.client_secret',
  '*.password',
  '*.token',
  'access_token',
  'refresh_token',
  'client_secret',
  'token',
  'code',
  'code_verifier',
  // Headers and bodies logged one level down (e.g. `log.info({ headers })`, `{ body }`, `{ query }`).
  '*.authorization',
  '*["proxy-authorization"]',
  '*.cookie',
  '*["set-cookie"]',
  '*.client_assertion',
  'req.query.code',
  'req.query.state',
  'req.query.token',
  'req.query.access_token',
  'req.query.client_secret',
  'req.body.code',
  'req.body.client_secret',
  'req.body.refresh_token',
  'req.body.code_verifier',
  'req.body.password',
];

/**
 * Without a destination the logger writes to stdout asynchronously and buffered (SonicBoom,
 * `sync: false` with `minLength`): lines gather until a few KiB or a second has passed and leave in
 * one write, instead of one write(2) per line on the request path (or, unbuffered, one hand-off to
 * libuv's thread pool per line). pino flushes what is buffered synchronously when the process
 * exits (its exit hook), so `process.exit` after shutdown loses nothing.
 */
export function createLogger(level: string, opts: { name?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  const options: LoggerOptions = {
    level,
    name: opts.name,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { pid: process.pid },
  };
  if (opts.destination) return pino(options, opts.destination as pino.DestinationStream);
  if (level === 'silent') return pino(options);
  // Up to 4 KiB (about seven access lines) per write, and nothing held longer than a second.
  return pino(options, pino.destination({ dest: 1, sync: false, minLength: 4096, periodicFlush: 1000 }));
}

/**
 * A child of `log` without redaction, for lines built from an allow-list that can carry no
 * credential (the access log): redaction walks every configured path, wildcards included, on
 * every line, which at info level cost more than building the line.
 */
export function unredacted(log: Logger): Logger {
  return log.child({}, { redact: { paths: [] } });
}
