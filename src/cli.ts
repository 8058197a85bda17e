/**
 * Command-line flags. Only the transport is chosen on the command line; every other setting is an
 * environment variable (src/config.ts), so one place holds the operator interface and `--help`
 * lists both. Flags are parsed by node:util `parseArgs` in strict mode: an unknown flag is an error,
 * never silently ignored (a typo like `--stido` must not start a public HTTP listener instead).
 */
import { parseArgs } from 'node:util';
import { EnvSchema } from './config.js';

export type Transport = 'http' | 'stdio';

export interface CliOptions {
  transport: Transport;
  help: boolean;
}

export type CliUsageErrorCode = 'unknown_flag' | 'unexpected_argument' | 'invalid_value' | 'conflicting_flags';

/** A command line we refuse; `message` is meant for the terminal, followed by a pointer to --help. */
export class CliUsageError extends Error {
  override name = 'CliUsageError';
  constructor(
    readonly code: CliUsageErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const TRANSPORTS: readonly Transport[] = ['http', 'stdio'];

/** `argv` excludes the node binary and script path (i.e. `process.argv.slice(2)`). */
export function parseCli(argv: string[]): CliOptions {
  let values: { stdio?: boolean; http?: boolean; transport?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        stdio: { type: 'boolean' },
        http: { type: 'boolean' },
        transport: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw toUsageError(err);
  }

  const chosen = new Set<Transport>();
  if (values.stdio) chosen.add('stdio');
  if (values.http) chosen.add('http');
  if (values.transport !== undefined) {
    if (!TRANSPORTS.includes(values.transport as Transport)) {
      throw new CliUsageError(
        'invalid_value',
        `--transport must be one of ${TRANSPORTS.join(', ')} (got "${values.transport}")`,
      );
    }
    chosen.add(values.transport as Transport);
  }
  if (chosen.size > 1) {
    throw new CliUsageError('conflicting_flags', `choose one transport, not ${[...chosen].join(' and ')}`);
  }
  return { transport: [...chosen][0] ?? 'http', help: values.help === true };
}

function toUsageError(err: unknown): CliUsageError {
  const code = (err as { code?: string }).code;
  const message = (err as Error).message;
  switch (code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return new CliUsageError('unknown_flag', message);
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return new CliUsageError('unexpected_argument', message);
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return new CliUsageError('invalid_value', message);
    default:
      return new CliUsageError('invalid_value', message);
  }
}

/**
 * One line per environment variable. The list of variables itself comes from the config schema, so
 * a new setting always shows up in --help; a test fails until it gets a description here.
 */
export const ENV_DESCRIPTIONS: Readonly<Record<string, string>> = {
  PORT: 'TCP port of the HTTP listener',
  HOST: 'interface to bind (loopback by default; 0.0.0.0 behind a load balancer)',
  BASE_URI: 'public base URL clients use (default http://localhost:PORT)',
  REDIS_URL:
    'redis[s]://[user:password@]host:port of the shared Redis (rediss = TLS); unset = embedded stand-in, single instance only',
  REDIS_TLS_CA_FILE: 'PEM file of a private CA for rediss:// connections',
  REDIS_CLUSTER_NODES: 'host:port,… seed nodes: Redis Cluster mode (sharded pub/sub)',
  REDIS_SENTINELS: 'host:port,… of the Sentinels: Sentinel mode (with REDIS_SENTINEL_MASTER)',
  REDIS_SENTINEL_MASTER: 'name of the master group the Sentinels monitor',
  REDIS_SENTINEL_USERNAME: 'ACL user of the Sentinels themselves, if they require one',
  REDIS_SENTINEL_PASSWORD: 'password of the Sentinels themselves, if they require one',
  REDIS_PREFIX: 'namespace of every Redis key and channel',
  AUTH_MODE: 'integrated | separate | none (none = unauthenticated, local experiments only)',
  AUTH_SERVER_URL: 'issuer URL of the authorization server (required when AUTH_MODE=separate)',
  AUTH_SERVER_INTERNAL_URL: 'where this server reaches the AS when the issuer URL is not routable from here',
  TOKEN_VALIDATION: 'jwt (local JWKS check) | introspection (RFC 7662)',
  ACCEPTED_AUDIENCES: 'comma-separated extra token audiences, for IdPs without RFC 8707',
  ALLOWED_JWT_ALGS: 'comma-separated JWS algorithms accepted on access tokens',
  JWT_REQUIRED_TYP: 'required JWT typ header (e.g. at+jwt); unset = any',
  USER_ID_CLAIM: 'token claim naming the user who owns sessions',
  REQUIRED_SCOPES: 'comma-separated scopes every /mcp request must carry',
  JWT_CLOCK_SKEW_SECONDS: 'tolerated clock difference for exp/nbf/iat',
  JWKS_COOLDOWN_SECONDS: 'minimum interval between JWKS refetches on an unknown kid',
  AUTH_SERVER_TIMEOUT_MS: 'per-request timeout towards the AS',
  AUTH_SERVER_RETRY_AFTER_SECONDS: 'fail-fast period (503 + Retry-After) after the AS failed',
  INTROSPECTION_CLIENT_ID: "this server's client id at the introspection endpoint",
  INTROSPECTION_CLIENT_SECRET: "this server's client secret at the introspection endpoint",
  INTROSPECTION_AUTH_METHOD: 'client_secret_basic | client_secret_post',
  INTROSPECTION_URL: "overrides the AS metadata's introspection_endpoint",
  INTROSPECTION_CACHE_MAX: 'bound on cached introspection results',
  INTROSPECTION_CACHE_TTL_SECONDS: 'reuse of an active introspection result (never past exp)',
  INTROSPECTION_NEGATIVE_CACHE_SECONDS: 'reuse of an inactive introspection result',
  OAUTH_SCOPES: 'comma-separated scopes the built-in AS grants and advertises',
  OAUTH_FLOW_TTL_SECONDS: 'lifetime of a pending login + consent',
  OAUTH_CODE_TTL_SECONDS: 'authorization code lifetime (≤ 600)',
  OAUTH_ACCESS_TOKEN_TTL_SECONDS: 'access token lifetime (≤ 3600)',
  OAUTH_GRANT_TTL_SECONDS: 'refresh-token chain lifetime after consent',
  OAUTH_CLIENT_TTL_SECONDS: 'dynamic client registration lifetime',
  OAUTH_CIMD_CACHE_SECONDS: 'reuse of a fetched Client ID Metadata Document',
  OAUTH_SIGNING_KEY_TTL_SECONDS: 'signing key rotation period',
  OAUTH_RATE_LIMIT_RELAXED: 'multiply auth-endpoint rate limits by 1000 (test suites only)',
  OAUTH_INTROSPECTION_CLIENTS: 'comma-separated client_id:secret[@resource] entries allowed to call /introspect',
  OAUTH_MAX_CLIENTS_PER_ADDRESS: 'live dynamic client registrations one client address may hold',
  LOGIN_PROVIDER: 'who signs users in: dev (test page; loopback only unless set) or oidc (upstream OpenID provider)',
  LOGIN_OIDC_ISSUER: 'issuer of the upstream OpenID provider (LOGIN_PROVIDER=oidc)',
  LOGIN_OIDC_CLIENT_ID: 'our client id at the upstream provider (redirect URI: BASE_URI/oauth/callback)',
  LOGIN_OIDC_CLIENT_SECRET: 'our client secret there; unset = public client with PKCE',
  LOGIN_OIDC_SCOPES: 'scopes asked of the upstream provider; must include openid',
  LOGIN_OIDC_USER_CLAIM: 'ID-token claim that becomes the user id (prefixed with the issuer)',
  LOGIN_OIDC_ALLOWED_DOMAINS: 'only users with a verified email in these domains may sign in',
  LOGIN_OIDC_TIMEOUT_MS: 'bound on each request to the upstream provider',
  LOG_LEVEL: 'fatal | error | warn | info | debug | trace | silent',
  METRICS_ENABLED: 'serve GET /metrics (Prometheus text format)',
  METRICS_TOKEN: 'if set, /metrics requires "Authorization: Bearer <token>" (min. 16 chars)',
  READINESS_TIMEOUT_MS: 'Redis PING budget of GET /ready',
  SESSION_IDLE_TTL_SECONDS: 'idle time after which a session is closed and its keys removed',
  RELAY_TIMEOUT_MS: 'how long a relaying instance waits for the session host before failing',
  SSE_KEEPALIVE_MS: 'SSE keep-alive comment interval (≤ 15000)',
  RESOURCE_UPDATE_INTERVAL_MS: 'demo: announce one test://static/resource/N as changed this often; 0 = off',
  LOG_MESSAGE_INTERVAL_MS: 'demo: per-session notifications/message period; 0 = off',
  MRTR_STATE_TTL_SECONDS: '2026-07-28: how long sealed multi-round-trip requestState stays valid',
  MRTR_KEY_ROTATION_SECONDS: '2026-07-28: how long one key seals requestState (keys shared through Redis)',
  TASK_TTL_SECONDS: 'tasks extension: a task stays readable this long after its last change',
  TASK_POLL_INTERVAL_MS: 'tasks extension: polling interval suggested to clients',
  TASK_LEASE_MS: "tasks extension: lease of a task's worker; a lost worker's task fails after it",
  MAX_TASKS_PER_INSTANCE: 'tasks extension: tasks one instance runs at once',
  MODERN_DIRECT_PATH: '2026-07-28: answer plain requests on pooled servers (false: all through the SDK entry)',
  MAX_LISTEN_STREAMS: '2026-07-28: open subscriptions/listen streams per instance',
  ALLOWED_ORIGINS: 'comma-separated Origin allow-list for /mcp',
  ALLOWED_HOSTS: 'comma-separated Host allow-list (DNS-rebinding defence)',
  MAX_BODY_BYTES: 'largest accepted request body',
  SHUTDOWN_GRACE_MS: 'graceful-shutdown budget for in-flight requests',
  TRUST_PROXY_HOPS: 'reverse-proxy hops whose X-Forwarded-For is trusted for the client address',
  MAX_SESSIONS_PER_USER: 'live sessions per user',
  MAX_LIVE_SESSIONS_PER_INSTANCE:
    'hosted sessions kept in memory; idle ones beyond it are passivated (rebuilt from Redis on their next message)',
  MAX_STREAMS_PER_SESSION: 'concurrent SSE streams per session (GET + POST streams)',
  MAX_PENDING_CLIENT_REQUESTS_PER_SESSION: 'unanswered server→client requests per session',
  MAX_WEBSOCKETS_PER_INSTANCE: 'open WebSockets (/ws) per instance; beyond it the upgrade gets 503',
  WEBSOCKET_PING_INTERVAL_MS: 'WebSocket ping period; a peer that misses one ping is dropped',
  WEBSOCKET_SEND_BUFFER_BYTES: 'unsent bytes a WebSocket may hold before it is closed as a slow consumer (4008)',
  RATE_LIMIT_ENABLED: 'rate-limit /mcp (counters shared through Redis)',
  RATE_LIMIT_WINDOW_SECONDS: 'rate-limit window',
  RATE_LIMIT_PER_USER: 'requests per window per authenticated user',
  RATE_LIMIT_PER_ADDRESS: 'requests per window per client address (before authentication)',
};

/** Environment variables with their default, as `--help` prints them. */
export function envHelpLines(): string[] {
  const shape = EnvSchema.shape as Record<string, { safeParse(v: unknown): { success: boolean; data?: unknown } }>;
  const names = Object.keys(shape);
  const width = Math.max(...names.map((n) => n.length));
  return names.map((name) => {
    const field = shape[name];
    const parsed = field?.safeParse(undefined);
    const def = parsed?.success && parsed.data !== undefined ? ` [default: ${formatDefault(parsed.data)}]` : '';
    return `  ${name.padEnd(width)}  ${ENV_DESCRIPTIONS[name] ?? '(see docs/operations.md)'}${def}`;
  });
}

function formatDefault(v: unknown): string {
  return Array.isArray(v) ? v.join(',') : String(v);
}

export function helpText(program = 'mcp-scaled-server'): string {
  return [
    `Usage: ${program} [--stdio | --http | --transport <http|stdio>] [--help]`,
    '',
    'Serves the MCP "everything" server.',
    '',
    'Flags:',
    '  --http                    Streamable HTTP (+ legacy SSE, + WebSocket on /ws) on HOST:PORT, routed through Redis (default)',
    '  --stdio                   one session over stdin/stdout: no HTTP, no auth, no Redis; logs go to stderr',
    '  --transport <http|stdio>  the same choice, spelled as a value',
    '  -h, --help                print this text and exit',
    '',
    'Environment variables (stdio reads only LOG_LEVEL, RESOURCE_UPDATE_INTERVAL_MS, LOG_MESSAGE_INTERVAL_MS):',
    ...envHelpLines(),
    '',
    'Examples:',
    '  npm start                                   # HTTP on 127.0.0.1:3232',
    '  npm start -- --stdio                        # for editor integrations',
    '  REDIS_URL=redis://127.0.0.1:6379 PORT=3001 npm start',
    '',
    'Endpoints, metrics and every setting: docs/operations.md',
    '',
  ].join('\n');
}
