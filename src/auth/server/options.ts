/**
 * Options of the authorization server factory. One implementation, two deployments: mounted into
 * the MCP server (integrated mode) and served on its own by auth-server/ (separate mode); each
 * passes its own issuer, resources, Redis namespace and lifetimes.
 */
import type { Redis } from 'ioredis';
import type { Logger } from '../../observability/logger.js';
import type { Keyspace } from '../../redis/keys.js';
import type { ClientMetadataFetcher } from './cimd/fetchClientMetadata.js';
import type { LoginOptions } from './login/options.js';

/** Lifetimes in seconds. The hierarchy is checked by `checkLifetimes`. */
export interface Lifetimes {
  /** Pending authorization: login + consent must finish within this. */
  flow: number;
  /** Authorization code. */
  code: number;
  /** Access token (JWT `exp - iat`). */
  accessToken: number;
  /** Grant = the whole refresh-token chain started by one consent. */
  grant: number;
  /** Dynamically registered client. */
  client: number;
  /** Client ID Metadata Document cache. */
  cimdCache: number;
  /** Signing key rotation period. */
  signingKey: number;
}

export const DEFAULT_LIFETIMES: Lifetimes = {
  flow: 600,
  code: 600,
  accessToken: 3600,
  grant: 7 * 24 * 3600,
  client: 30 * 24 * 3600,
  cimdCache: 300,
  signingKey: 30 * 24 * 3600,
};

export class InvalidLifetimesError extends Error {
  override name = 'InvalidLifetimesError';
}

/**
 * A child credential must never outlive its parent: a code lives within its flow's window, an access
 * token within its grant, a grant within its client registration. Otherwise revoking the parent
 * (or letting it expire) would leave live children behind.
 */
export function checkLifetimes(l: Lifetimes): void {
  const problems: string[] = [];
  if (l.accessToken > 3600) problems.push('access tokens must live at most 1 hour');
  if (l.code > 600) problems.push('authorization codes must live at most 10 minutes (OAuth 2.1 §4.1.2)');
  if (l.accessToken > l.grant) problems.push('access token lifetime exceeds grant lifetime');
  if (l.grant > l.client) problems.push('grant lifetime exceeds client registration lifetime');
  if (l.accessToken > l.signingKey) problems.push('access token lifetime exceeds signing key lifetime');
  if (problems.length > 0) throw new InvalidLifetimesError(problems.join('; '));
}

export interface RateLimitOptions {
  /** Scale every per-endpoint limit (1 = the SDK's defaults; tests use a large factor). */
  multiplier: number;
  /**
   * `redis`: counters shared by every instance (src/redis/rateLimitStore.ts). `memory`: per process,
   * for the single-instance embedded-Redis mode whose stand-in cannot run the counters' script.
   */
  store: 'redis' | 'memory';
}

export interface IntrospectionClient {
  clientId: string;
  clientSecret: string;
  /** The resource(s) this resource server serves; it may introspect only tokens issued for them. */
  resources: string[];
}

export interface AuthorizationServerOptions {
  /** Issuer identifier (RFC 8414 §2): https (or loopback http), no path, query or fragment. */
  issuer: string;
  /** Accepted RFC 8707 resource indicators; tokens get one of them as `aud`. The first is the default. */
  resources: string[];
  /** Scopes this server grants (also `scopes_supported`). */
  scopes: string[];
  redis: Redis;
  keys: Keyspace;
  log: Logger;
  lifetimes?: Partial<Lifetimes>;
  rateLimit: RateLimitOptions | false;
  /** Resource servers allowed to call /introspect. */
  introspectionClients?: IntrospectionClient[];
  /** Live dynamic registrations one client address may hold (default 200). */
  maxClientsPerAddress?: number;
  /** Who vouches for the user: the test page (default) or an upstream OpenID provider. */
  login?: LoginOptions;
  /** Fetches Client ID Metadata Documents; defaults to the SSRF-guarded HTTPS fetcher. */
  fetchClientMetadata?: ClientMetadataFetcher;
  /** Human-readable name shown on the login and consent pages. */
  serviceName?: string;
  /** Epoch-ms clock for token issue and expiry checks (tests move it instead of sleeping). */
  clock?: () => number;
}
