/**
 * The authorization server's options from the shared settings, for both of its deployments
 * (mounted in the MCP server in integrated mode, standalone in auth-server/). Only what differs
 * between the two — issuer, accepted resources, Redis namespace, name — is passed in.
 */
import type { Redis } from 'ioredis';
import { invalidConfig, type Config } from '../../config.js';
import type { Logger } from '../../observability/logger.js';
import type { Keyspace } from '../../redis/keys.js';
import { createAuthorizationServer, type AuthorizationServer } from './authorizationServer.js';
import type { LoginOptions } from './login/options.js';
import type { IntrospectionClient, Lifetimes } from './options.js';
import { publishAheadSeconds } from './signingKeys.js';

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
  /** Whether the sign-in page is reachable from other machines (the dev-login warning). */
  devLoginExposed: boolean;
}

export function authorizationServerFromConfig(c: Config, d: Deployment): AuthorizationServer {
  const log = d.log.child({ component: 'oauth' });
  const login = loginFromConfig(c);
  if (login.provider === 'dev' && d.devLoginExposed) {
    log.warn(
      'LOGIN_PROVIDER=dev on a non-loopback address: ANYONE who reaches this server can sign in as ANY user id and ' +
        "use that user's MCP sessions. For testing only; set LOGIN_PROVIDER=oidc for real sign-in (docs/oauth.md).",
    );
  }
  // Defaults a deployment should know about (docs/oauth.md).
  log.info(
    {
      issuer: d.issuer,
      loginProvider: login.provider,
      ...(login.provider === 'oidc'
        ? { upstreamIssuer: login.issuer, userClaim: login.userClaim, allowedDomains: login.allowedDomains }
        : {}),
      refreshTokens: 'only for clients registered for the refresh_token grant',
      errorsBeforeSignIn: 'shown on the error page, never redirected',
      maxClientsPerAddress: c.OAUTH_MAX_CLIENTS_PER_ADDRESS,
      signingKeyPublishedAheadSeconds: publishAheadSeconds(c.OAUTH_SIGNING_KEY_TTL_SECONDS),
    },
    'authorization server settings',
  );
  return createAuthorizationServer({
    issuer: d.issuer,
    resources: d.resources,
    scopes: c.OAUTH_SCOPES,
    redis: d.redis,
    keys: d.keys,
    log,
    lifetimes: lifetimesFromConfig(c),
    rateLimit: {
      multiplier: c.OAUTH_RATE_LIMIT_RELAXED ? RELAXED_RATE_LIMIT_FACTOR : 1,
      // The embedded stand-in (no REDIS_* settings) cannot run the counters' script; it is
      // single-instance anyway, so per-process counters are exact there.
      store: c.redis.mode === 'embedded' ? 'memory' : 'redis',
    },
    introspectionClients: introspectionClientsFromConfig(c, d.resources),
    maxClientsPerAddress:
      c.OAUTH_MAX_CLIENTS_PER_ADDRESS * (c.OAUTH_RATE_LIMIT_RELAXED ? RELAXED_RATE_LIMIT_FACTOR : 1),
    login,
    serviceName: d.serviceName,
  });
}

export function loginFromConfig(c: Config): LoginOptions {
  if (c.loginProvider === 'dev') return { provider: 'dev' };
  return {
    provider: 'oidc',
    // resolveLoginProvider (config.ts) made sure both are set.
    issuer: c.LOGIN_OIDC_ISSUER!,
    clientId: c.LOGIN_OIDC_CLIENT_ID!,
    clientSecret: c.LOGIN_OIDC_CLIENT_SECRET,
    scopes: c.LOGIN_OIDC_SCOPES,
    userClaim: c.LOGIN_OIDC_USER_CLAIM,
    allowedDomains: c.LOGIN_OIDC_ALLOWED_DOMAINS,
    timeoutMs: c.LOGIN_OIDC_TIMEOUT_MS,
  };
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

/**
 * `client_id:secret` or `client_id:secret@resource`: each resource server may introspect only
 * tokens for its own resource; without `@resource` it is the one resource the server issues
 * tokens for (refused when there are several: which one would be a guess).
 */
export function introspectionClientsFromConfig(c: Config, resources: string[]): IntrospectionClient[] {
  const problem = (why: string) => invalidConfig(`OAUTH_INTROSPECTION_CLIENTS: ${why}`);
  return (c.OAUTH_INTROSPECTION_CLIENTS ?? []).map((entry) => {
    const colon = entry.indexOf(':');
    if (colon <= 0 || colon === entry.length - 1)
      throw problem('expected client_id:secret or client_id:secret@resource entries');
    const clientId = entry.slice(0, colon);
    const rest = entry.slice(colon + 1);
    const at = rest.lastIndexOf('@https://') >= 0 ? rest.lastIndexOf('@https://') : rest.lastIndexOf('@http://');
    if (at > 0) return { clientId, clientSecret: rest.slice(0, at), resources: [rest.slice(at + 1)] };
    if (resources.length !== 1)
      throw problem(
        `${clientId} must name its resource (client_id:secret@resource) when tokens are issued for several`,
      );
    return { clientId, clientSecret: rest, resources };
  });
}
