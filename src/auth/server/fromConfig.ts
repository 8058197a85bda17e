/**
 * The authorization server's options from the shared settings, for both of its deployments
 * (mounted in the MCP server in integrated mode, standalone in auth-server/). Only what differs
 * between the two — issuer, accepted resources, Redis namespace, name — is passed in.
 */
import type { Redis } from 'ioredis';
import { ConfigError, type Config } from '../../config.js';
import type { Logger } from '../../observability/logger.js';
import type { Keyspace } from '../../redis/keys.js';
import { createAuthorizationServer, type AuthorizationServer } from './authorizationServer.js';
import type { IntrospectionClient, Lifetimes } from './options.js';

/** OAUTH_RATE_LIMIT_RELAXED multiplies every auth-endpoint limit by this (test runs, demos). */
const RELAXED_RATE_LIMIT_FACTOR = 1000;

export interface Deployment {
  issuer: string;
  /** RFC 8707 resource URIs tokens may be issued for. */
  resources: string[];
  redis: Redis;
  keys: Keyspace;
  log: Logger;
  serviceName: string;
}

export function authorizationServerFromConfig(c: Config, d: Deployment): AuthorizationServer {
  return createAuthorizationServer({
    issuer: d.issuer,
    resources: d.resources,
    scopes: c.OAUTH_SCOPES,
    redis: d.redis,
    keys: d.keys,
    log: d.log.child({ component: 'oauth' }),
    lifetimes: lifetimesFromConfig(c),
    rateLimit: {
      multiplier: c.OAUTH_RATE_LIMIT_RELAXED ? RELAXED_RATE_LIMIT_FACTOR : 1,
      // The embedded stand-in (no REDIS_* settings) cannot run rate-limit-redis's scripts; it is
      // single-instance anyway, so per-process counters are exact there.
      store: c.redis.mode === 'embedded' ? 'memory' : 'redis',
    },
    trustProxyHops: c.TRUST_PROXY_HOPS,
    introspectionClients: introspectionClientsFromConfig(c),
    serviceName: d.serviceName,
  });
}

export function lifetimesFromConfig(c: Config): Lifetimes {
  return {
    flow: c.OAUTH_FLOW_TTL_SECONDS,
    code: c.OAUTH_CODE_TTL_SECONDS,
    accessToken: c.OAUTH_ACCESS_TOKEN_TTL_SECONDS,
    grant: c.OAUTH_GRANT_TTL_SECONDS,
    client: c.OAUTH_CLIENT_TTL_SECONDS,
    cimdCache: c.OAUTH_CIMD_CACHE_SECONDS,
    signingKey: c.OAUTH_SIGNING_KEY_TTL_SECONDS,
  };
}

export function introspectionClientsFromConfig(c: Config): IntrospectionClient[] {
  return (c.OAUTH_INTROSPECTION_CLIENTS ?? []).map((pair) => {
    const colon = pair.indexOf(':');
    if (colon <= 0 || colon === pair.length - 1) {
      throw new ConfigError('invalid configuration:\n  OAUTH_INTROSPECTION_CLIENTS: expected client_id:secret pairs');
    }
    return { clientId: pair.slice(0, colon), clientSecret: pair.slice(colon + 1) };
  });
}
