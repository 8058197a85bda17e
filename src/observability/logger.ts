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

export function createLogger(level: string, opts: { name?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  const options: LoggerOptions = {
    level,
    name: opts.name,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { pid: process.pid },
  };
  return opts.destination ? pino(options, opts.destination as pino.DestinationStream) : pino(options);
}
