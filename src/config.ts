/**
 * Every setting of the server, in one zod schema. Values come from the environment (the operator
 * interface documented in README.md and docs/operations.md); a bad value stops start-up with a
 * message that names the variable.
 */
import { z } from 'zod';
import {
  parseEndpoint,
  redisSettings,
  RedisSettingsError,
  type RedisEndpoint,
  type RedisSettings,
} from './redis/settings.js';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', ''])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** A comma-separated list; blanks around and between the commas are dropped. */
export const csv = z.string().transform((s) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x.length > 0),
);

const url = z
  .string()
  .url()
  .transform((s) => s.replace(/\/+$/, ''));

const endpoint = z.string().transform((v, ctx): RedisEndpoint => {
  const parsed = parseEndpoint(v);
  if (!parsed) {
    ctx.addIssue({ code: 'custom', message: `${v} is not host:port` });
    return z.NEVER;
  }
  return parsed;
});
/** `host:port,host:port,…` (REDIS_CLUSTER_NODES, REDIS_SENTINELS). */
const endpoints = csv.pipe(z.array(endpoint).min(1, 'at least one host:port'));

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const EnvSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3232),
  HOST: z.string().min(1).default('127.0.0.1'),
  /** Public base URL of this deployment (what clients see through the load balancer). */
  BASE_URI: url.optional(),
  /**
   * Unset = embedded in-process Redis stand-in (single instance only). `rediss://` = TLS;
   * `user:password@` = ACL user. With REDIS_CLUSTER_NODES or REDIS_SENTINELS it supplies only the
   * scheme and credentials (src/redis/settings.ts).
   */
  REDIS_URL: z.string().url().optional(),
  /** PEM file of the CA that signed the Redis servers' certificates (private CA; needs rediss://). */
  REDIS_TLS_CA_FILE: z.string().min(1).optional(),
  /** Redis Cluster seed nodes; setting it switches to cluster mode (sharded pub/sub). */
  REDIS_CLUSTER_NODES: endpoints.optional(),
  /** Sentinels watching the master group REDIS_SENTINEL_MASTER; setting it switches to Sentinel mode. */
  REDIS_SENTINELS: endpoints.optional(),
  REDIS_SENTINEL_MASTER: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/)
    .optional(),
  /** Credentials of the sentinels themselves, when they require them (the data nodes' come from REDIS_URL). */
  REDIS_SENTINEL_USERNAME: z.string().min(1).optional(),
  REDIS_SENTINEL_PASSWORD: z.string().min(1).optional(),
  /** Namespace of every key and channel; lets several deployments (or test runs) share a Redis. */
  REDIS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+$/)
    .default('mcp'),
  AUTH_MODE: z.enum(['integrated', 'separate', 'none']).default('integrated'),
  AUTH_SERVER_URL: url.optional(),
  // ---- separate mode: resource server validating tokens of an external AS (docs/deployment.md) ----
  /**
   * Where this server fetches the AS's metadata, JWKS and introspection endpoint when the public
   * issuer URL is not reachable from here (e.g. docker-compose service names). Endpoint URLs found
   * in metadata that start with AUTH_SERVER_URL are rewritten onto this base; `iss` is still
   * checked against AUTH_SERVER_URL.
   */
  AUTH_SERVER_INTERNAL_URL: url.optional(),
  /** `jwt`: verify signed access tokens locally against the cached JWKS. `introspection`: RFC 7662. */
  TOKEN_VALIDATION: z.enum(['jwt', 'introspection']).default('jwt'),
  /**
   * Audiences accepted besides this server's own URL, for IdPs without RFC 8707 resource
   * indicators (Entra: the API's client id / Application ID URI; Auth0: the API identifier).
   */
  ACCEPTED_AUDIENCES: csv.optional(),
  /** JWS algorithms accepted on access tokens; `none` and HMAC are never accepted. */
  ALLOWED_JWT_ALGS: csv
    .pipe(
      z
        .array(
          z.enum(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519']),
        )
        .min(1),
    )
    .default(['RS256', 'PS256', 'ES256', 'EdDSA']),
  /** Required JWT `typ` header (RFC 9068 says `at+jwt`); unset = any, since Okta/Entra send `JWT`. */
  JWT_REQUIRED_TYP: z.string().min(1).optional(),
  /** Token claim (or introspection field) naming the user who owns sessions. */
  USER_ID_CLAIM: z.string().min(1).default('sub'),
  /** Scopes every /mcp request must carry (403 insufficient_scope otherwise); also advertised in PRM. */
  REQUIRED_SCOPES: csv.optional(),
  /** Tolerated clock difference with the AS when checking exp/nbf/iat. */
  JWT_CLOCK_SKEW_SECONDS: z.coerce.number().int().min(0).max(300).default(30),
  /** JWKS refetch on an unknown `kid` happens at most once per this interval. */
  JWKS_COOLDOWN_SECONDS: z.coerce.number().min(0).max(3600).default(30),
  /** Per-request timeout towards the AS (metadata, JWKS, introspection). */
  AUTH_SERVER_TIMEOUT_MS: z.coerce.number().int().min(50).max(60_000).default(3000),
  /** After the AS failed, calls fail fast (503 + Retry-After) for this long before trying again. */
  AUTH_SERVER_RETRY_AFTER_SECONDS: z.coerce.number().min(0).max(300).default(5),
  /** The resource server's own client credentials at the introspection endpoint (RFC 7662 §2.1). */
  INTROSPECTION_CLIENT_ID: z.string().min(1).optional(),
  INTROSPECTION_CLIENT_SECRET: z.string().min(1).optional(),
  /** `client_secret_basic` (RFC 6749 §2.3.1, the default) or `client_secret_post`. */
  INTROSPECTION_AUTH_METHOD: z.enum(['client_secret_basic', 'client_secret_post']).default('client_secret_basic'),
  /** Overrides the `introspection_endpoint` from the AS metadata. */
  INTROSPECTION_URL: url.optional(),
  /** Bound on cached introspection results (LRU). */
  INTROSPECTION_CACHE_MAX: z.coerce.number().int().min(0).max(1_000_000).default(10_000),
  /** An active result is reused for at most this long (and never past the token's exp). */
  INTROSPECTION_CACHE_TTL_SECONDS: z.coerce.number().int().min(0).max(3600).default(60),
  /** An inactive result is reused this briefly, so a flood of one bad token does not hit the AS. */
  INTROSPECTION_NEGATIVE_CACHE_SECONDS: z.coerce.number().int().min(0).max(30).default(5),
  // ---- integrated mode: this server is its own OAuth 2.1 authorization server (docs/oauth.md) ----
  /** Scopes the authorization server grants and advertises; a request with no scope gets all of them. */
  OAUTH_SCOPES: csv.pipe(z.array(z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/)).min(1)).default(['mcp']),
  /** Pending authorization (login + consent) lifetime. */
  OAUTH_FLOW_TTL_SECONDS: z.coerce.number().int().min(60).max(3600).default(600),
  /** Authorization code lifetime (OAuth 2.1 §4.1.2: short; 10 minutes at most). */
  OAUTH_CODE_TTL_SECONDS: z.coerce.number().int().min(10).max(600).default(600),
  /** Access token (JWT) lifetime; at most one hour. */
  OAUTH_ACCESS_TOKEN_TTL_SECONDS: z.coerce.number().int().min(10).max(3600).default(3600),
  /** Grant lifetime: the refresh-token chain of one authorization ends this long after consent. */
  OAUTH_GRANT_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(60)
    .max(90 * 24 * 3600)
    .default(7 * 24 * 3600),
  /** Dynamic client registration lifetime (also `client_secret_expires_at`). */
  OAUTH_CLIENT_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(60)
    .max(365 * 24 * 3600)
    .default(30 * 24 * 3600),
  /** How long a fetched Client ID Metadata Document is reused before it is fetched again. */
  OAUTH_CIMD_CACHE_SECONDS: z.coerce
    .number()
    .int()
    .min(0)
    .max(24 * 3600)
    .default(300),
  /** Signing keys rotate after this long; old public keys stay published while tokens signed by them live. */
  OAUTH_SIGNING_KEY_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(3600)
    .max(365 * 24 * 3600)
    .default(30 * 24 * 3600),
  /** Multiplies every auth-endpoint rate limit by 1000 (for test suites that register many clients). */
  OAUTH_RATE_LIMIT_RELAXED: bool.default(false),
  /**
   * Resource servers allowed to call /introspect (RFC 7662 §2.1), as `client_id:secret` or
   * `client_id:secret@resource` (the MCP URL whose tokens it may introspect; required when the
   * authorization server issues tokens for several). Unset = introspection is refused for everyone.
   */
  OAUTH_INTROSPECTION_CLIENTS: csv.optional(),
  /** Live dynamic client registrations one client address may hold (registration is unauthenticated). */
  OAUTH_MAX_CLIENTS_PER_ADDRESS: z.coerce.number().int().min(1).max(1_000_000).default(200),
  // ---- sign-in (integrated mode and auth-server/; docs/oauth.md "Sign-in providers") ----
  /**
   * Who vouches for the user: `dev` (the test page; anyone types any user id) or `oidc` (an
   * upstream OpenID Connect provider). Unset = `dev` when listening on loopback; required otherwise.
   */
  LOGIN_PROVIDER: z.enum(['dev', 'oidc']).optional(),
  /**
   * The upstream provider's issuer; discovery reads its /.well-known/openid-configuration. https
   * (http only on loopback).
   */
  LOGIN_OIDC_ISSUER: z
    .string()
    .url()
    .refine((s) => s.startsWith('https://') || isLoopbackUrl(s), 'must be https (plain http only for a loopback host)')
    .optional(),
  /** Our client id at the upstream provider (its redirect URI is `${BASE_URI}/oauth/callback`). */
  LOGIN_OIDC_CLIENT_ID: z.string().min(1).max(512).optional(),
  /** Our client secret there; unset = a public client (PKCE only). */
  LOGIN_OIDC_CLIENT_SECRET: z.string().min(1).optional(),
  /** Scopes asked of the provider, space- or comma-separated; must include openid. */
  LOGIN_OIDC_SCOPES: z
    .string()
    .transform((s) => s.split(/[\s,]+/).filter((x) => x.length > 0))
    .pipe(
      z
        .array(z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/))
        .refine((a) => a.includes('openid'), 'must include openid'),
    )
    .default(['openid', 'email', 'profile']),
  /** ID token claim whose value (prefixed with the issuer) becomes our user id. */
  LOGIN_OIDC_USER_CLAIM: z.string().min(1).max(100).default('sub'),
  /** Only users whose verified email is in one of these domains may sign in (comma-separated). */
  LOGIN_OIDC_ALLOWED_DOMAINS: csv
    .pipe(z.array(z.string().regex(/^[A-Za-z0-9.-]+$/, 'must be domain names')).min(1))
    .optional(),
  /** Bound on every request to the upstream provider (discovery, token, JWKS). */
  LOGIN_OIDC_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(5000),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  METRICS_ENABLED: bool.default(true),
  /**
   * When set, GET /metrics requires `Authorization: Bearer <METRICS_TOKEN>` (the scraper's
   * credentials); unset = open to whoever reaches the port, so restrict it at the network instead.
   */
  METRICS_TOKEN: z.string().min(16).optional(),
  /** Upper bound on the Redis PING behind GET /ready; a slower Redis counts as unreachable. */
  READINESS_TIMEOUT_MS: z.coerce.number().int().min(50).max(30_000).default(1000),
  /** A session with no traffic for this long is closed and its keys removed. */
  SESSION_IDLE_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(1)
    .max(7 * 24 * 3600)
    .default(3600),
  /**
   * How long a relaying instance waits for any sign of life from the instance hosting a session
   * before answering the client with an error (the host sends heartbeats for slow requests).
   */
  RELAY_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(3000),
  /** SSE keep-alive comment interval; ≤ 15 s so idle proxies do not cut streams. */
  SSE_KEEPALIVE_MS: z.coerce.number().int().min(100).max(15_000).default(15_000),
  /**
   * Demo resource-change simulator (src/mcp/resourceUpdates.ts): every this many ms one of
   * test://static/resource/1..100 is announced as changed on the shared change bus: sessions
   * subscribed to it get notifications/resources/updated, and so do `subscriptions/listen`
   * streams that asked for it. 0 = off. Run it on one instance (or accept one change per instance
   * per tick: the bus fans out to all).
   */
  RESOURCE_UPDATE_INTERVAL_MS: z.coerce.number().int().min(0).max(3_600_000).default(10_000),
  /**
   * Period of the demo notifications/message stream each session receives (filtered by its
   * logging/setLevel level). 0 = off: it costs one timer per session.
   */
  LOG_MESSAGE_INTERVAL_MS: z.coerce.number().int().min(0).max(3_600_000).default(0),
  // ---- the 2026-07-28 lane (docs/operations.md, "The 2026-07-28 lane") ----
  /**
   * How long multi-round-trip `requestState` stays valid after it is minted: a client that answers
   * later (a person filling an elicitation) must start the call again.
   */
  MRTR_STATE_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(30)
    .max(24 * 3600)
    .default(600),
  /**
   * How long one key seals new `requestState` before the next one takes over; a retired key still
   * verifies for MRTR_STATE_TTL_SECONDS. The keys are shared by all instances through Redis.
   */
  MRTR_KEY_ROTATION_SECONDS: z.coerce
    .number()
    .int()
    .min(60)
    .max(90 * 24 * 3600)
    .default(24 * 3600),
  /** How long a task stays readable after its last change (its `ttlMs`; tasks extension). */
  TASK_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(10)
    .max(7 * 24 * 3600)
    .default(3600),
  /** The polling interval suggested to clients for tasks/get (`pollIntervalMs`). */
  TASK_POLL_INTERVAL_MS: z.coerce.number().int().min(100).max(60_000).default(1000),
  /**
   * Lease of the instance running a task, renewed every third of it. If that instance dies, its
   * tasks are reported `failed` (worker lost) once this much time has passed.
   */
  TASK_LEASE_MS: z.coerce.number().int().min(300).max(600_000).default(15_000),
  /** Tasks one instance runs at once; a task-creating call beyond it is refused (-32000). */
  MAX_TASKS_PER_INSTANCE: z.coerce.number().int().min(1).max(100_000).default(100),
  /**
   * Serve plain 2026-07-28 requests (tools, prompts, resources, completions, discovery) on pooled
   * servers through the SDK's per-request transport, instead of the SDK's per-request entry
   * (`createMcpHandler`) for everything: same answers, much less CPU per request
   * (docs/performance.md). false sends every request through the entry.
   */
  MODERN_DIRECT_PATH: bool.default(true),
  /** Open `subscriptions/listen` streams one instance serves; more are refused in-band (-32603). */
  MAX_LISTEN_STREAMS: z.coerce.number().int().min(1).max(100_000).default(1024),
  /** Origins allowed to talk to /mcp (a present, disallowed Origin gets 403). */
  ALLOWED_ORIGINS: csv.optional(),
  /** Host header allow-list (DNS-rebinding defence); defaults to loopback names when bound to loopback. */
  ALLOWED_HOSTS: csv.optional(),
  MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .max(64 * 1024 * 1024)
    .default(4 * 1024 * 1024),
  /** Upper bound on waiting for in-flight requests during graceful shutdown. */
  SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).max(120_000).default(10_000),
  /** Number of reverse-proxy hops in front of this server whose X-Forwarded-For may be trusted. */
  TRUST_PROXY_HOPS: z.coerce.number().int().min(0).max(10).default(0),
  // ---- limits (docs/operations.md, "Limits") ----
  /** Live sessions one user may hold at once; initialize beyond it is refused. */
  MAX_SESSIONS_PER_USER: z.coerce.number().int().min(1).max(100_000).default(100),
  /** Concurrent SSE streams of one session (the GET stream plus POST response streams). */
  MAX_STREAMS_PER_SESSION: z.coerce.number().int().min(1).max(1000).default(32),
  /**
   * Hosted sessions one instance keeps in memory (their McpServer); beyond it the least recently
   * used idle ones are passivated: dropped from memory and rebuilt from Redis on their next
   * message, invisibly to the client. A session with a request in flight or a server→client
   * request pending is never passivated, nor an HTTP+SSE or WebSocket one. The default bounds
   * the servers' share of memory to a few tens of MB (docs/performance.md, "Sessions and memory").
   */
  MAX_LIVE_SESSIONS_PER_INSTANCE: z.coerce.number().int().min(1).max(1_000_000).default(1000),
  /** Server→client requests (sampling, elicitation, roots) awaiting an answer, per session. */
  MAX_PENDING_CLIENT_REQUESTS_PER_SESSION: z.coerce.number().int().min(1).max(10_000).default(32),
  // ---- WebSocket transport (/ws; docs/operations.md, "/ws") ----
  /** Open WebSockets one instance accepts; beyond it the upgrade gets 503 (the client retries, elsewhere). */
  MAX_WEBSOCKETS_PER_INSTANCE: z.coerce.number().int().min(1).max(1_000_000).default(10_000),
  /** Ping period of every open WebSocket; a peer that has not answered the previous ping is dropped. */
  WEBSOCKET_PING_INTERVAL_MS: z.coerce.number().int().min(100).max(300_000).default(15_000),
  /**
   * Bound on a socket's unsent data: a client that leaves more than this unread when the next
   * message is due is disconnected (close code 4008) instead of growing the server's memory.
   */
  WEBSOCKET_SEND_BUFFER_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .max(256 * 1024 * 1024)
    .default(4 * 1024 * 1024),
  /** Master switch for the /mcp rate limits below (counters shared by all instances in Redis). */
  RATE_LIMIT_ENABLED: bool.default(true),
  /** Fixed window over which the rate limits count requests. */
  RATE_LIMIT_WINDOW_SECONDS: z.coerce.number().int().min(1).max(3600).default(60),
  /** Requests to /mcp per window per authenticated user, across all instances. */
  RATE_LIMIT_PER_USER: z.coerce.number().int().min(1).max(1_000_000).default(600),
  /**
   * Requests to /mcp per window per client address, counted before authentication so token
   * guessing and unauthenticated floods are bounded too. Generous, since one NAT may hide many users.
   */
  RATE_LIMIT_PER_ADDRESS: z.coerce.number().int().min(1).max(1_000_000).default(1200),
});

export type Env = z.infer<typeof EnvSchema>;

export interface Config extends Env {
  /** The Redis topology the REDIS_* settings describe (checked together at start-up). */
  redis: RedisSettings;
  BASE_URI: string;
  /** LOGIN_PROVIDER after the loopback rule (see resolveLoginProvider). */
  loginProvider: 'dev' | 'oidc';
  /** The dev sign-in page is reachable beyond this machine (explicit LOGIN_PROVIDER=dev): warn loudly. */
  devLoginExposed: boolean;
  /** Canonical URL of the MCP endpoint (RFC 8707 resource identifier). */
  mcpUrl: string;
  ALLOWED_ORIGINS: string[];
  ALLOWED_HOSTS: string[] | undefined;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** The one shape of a configuration error: a heading, then one indented line per problem (`NAME: why`). */
export function invalidConfig(...problems: string[]): ConfigError {
  return new ConfigError(`invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
}

/** Parses the environment with `schema`; empty strings (as .env files write them) mean "not set". */
export function parseEnv<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv): z.output<S> {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(cleaned);
  if (!parsed.success)
    throw invalidConfig(...parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`));
  return parsed.data;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/** A listen address reachable only from this machine (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  return bare === 'localhost' || bare === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare);
}

function isLoopbackUrl(s: string): boolean {
  try {
    return isLoopbackHost(new URL(s).hostname);
  } catch {
    return false;
  }
}

/**
 * The loopback rule of LOGIN_PROVIDER: the dev page lets anyone sign in as anyone, so it is the
 * silent default only when nobody else can reach the server. On any other address an unset
 * LOGIN_PROVIDER stops start-up; an explicit `dev` starts, with a loud warning (`exposed`).
 * `hostVariable` names the setting that holds the address (HOST, or AUTH_SERVER_HOST).
 */
export function resolveLoginProvider(
  e: Pick<
    Env,
    'LOGIN_PROVIDER' | 'LOGIN_OIDC_ISSUER' | 'LOGIN_OIDC_CLIENT_ID' | 'LOGIN_OIDC_ALLOWED_DOMAINS' | 'LOGIN_OIDC_SCOPES'
  >,
  host: string,
  hostVariable: string,
): { loginProvider: 'dev' | 'oidc'; devLoginExposed: boolean } {
  const loopback = isLoopbackHost(host);
  if (e.LOGIN_PROVIDER === undefined && !loopback) {
    throw invalidConfig(
      `LOGIN_PROVIDER: required when ${hostVariable}=${host} is not a loopback address. ` +
        'Set LOGIN_PROVIDER=oidc with LOGIN_OIDC_ISSUER and LOGIN_OIDC_CLIENT_ID (docs/oauth.md), or LOGIN_PROVIDER=dev ' +
        'to let anyone who reaches the server sign in as any user (testing only).',
    );
  }
  const loginProvider = e.LOGIN_PROVIDER ?? 'dev';
  if (loginProvider === 'oidc') {
    const missing = (['LOGIN_OIDC_ISSUER', 'LOGIN_OIDC_CLIENT_ID'] as const).filter((k) => e[k] === undefined);
    if (missing.length > 0) throw invalidConfig(`${missing.join(', ')}: required when LOGIN_PROVIDER=oidc`);
    if (e.LOGIN_OIDC_ALLOWED_DOMAINS && !e.LOGIN_OIDC_SCOPES.includes('email')) {
      throw invalidConfig('LOGIN_OIDC_SCOPES: must include email when LOGIN_OIDC_ALLOWED_DOMAINS is set');
    }
  }
  return { loginProvider, devLoginExposed: loginProvider === 'dev' && !loopback };
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const e = parseEnv(EnvSchema, env);
  const base = e.BASE_URI ?? `http://${LOOPBACK.has(e.HOST) || e.HOST === '0.0.0.0' ? 'localhost' : e.HOST}:${e.PORT}`;
  const baseUrl = new URL(base);
  if (e.AUTH_MODE === 'separate' && !e.AUTH_SERVER_URL) {
    throw invalidConfig('AUTH_SERVER_URL: required when AUTH_MODE=separate');
  }
  if (
    e.AUTH_MODE === 'separate' &&
    e.TOKEN_VALIDATION === 'introspection' &&
    !(e.INTROSPECTION_CLIENT_ID && e.INTROSPECTION_CLIENT_SECRET)
  ) {
    throw invalidConfig(
      'INTROSPECTION_CLIENT_ID, INTROSPECTION_CLIENT_SECRET: required when TOKEN_VALIDATION=introspection',
    );
  }
  // Only integrated mode serves sign-in pages here; auth-server/ applies the rule to its own address.
  const login =
    e.AUTH_MODE === 'integrated'
      ? resolveLoginProvider(e, e.HOST, 'HOST')
      : { loginProvider: e.LOGIN_PROVIDER ?? 'dev', devLoginExposed: false };
  let redis: RedisSettings;
  try {
    redis = redisSettings(e);
  } catch (err) {
    if (err instanceof RedisSettingsError) throw invalidConfig(err.message);
    throw err;
  }
  const origins = e.ALLOWED_ORIGINS ?? [
    baseUrl.origin,
    // MCP Inspector (web UI) defaults.
    'http://localhost:6274',
    'http://127.0.0.1:6274',
  ];
  const hosts =
    e.ALLOWED_HOSTS ?? (LOOPBACK.has(e.HOST) ? ['localhost', '127.0.0.1', '[::1]', baseUrl.hostname] : undefined);
  return {
    ...e,
    ...login,
    redis,
    BASE_URI: base,
    mcpUrl: `${base}/mcp`,
    ALLOWED_ORIGINS: origins,
    ALLOWED_HOSTS: hosts,
  };
}
