/**
 * Integrated mode (AUTH_MODE=integrated, the default): this deployment is both the MCP resource
 * server and its own OAuth 2.1 authorization server. The router serves the Protected Resource
 * Metadata (both well-known forms) and the whole authorization server at the app root; /mcp is
 * guarded by the shared bearer middleware over the authorization server's local verifier, which
 * accepts only tokens whose audience is this server's /mcp URL.
 */
import express from 'express';
import { ConfigError, type Config } from '../config.js';
import { bearerAuth } from './bearer.js';
import type { AuthDeps } from './index.js';
import { createAuthorizationServer } from './server/authorizationServer.js';
import type { IntrospectionClient, Lifetimes } from './server/options.js';
import { protectedResourceMetadataRouter, protectedResourceMetadataUrl } from './separate/protectedResourceMetadata.js';
import type { AuthModeSetup } from './types.js';

const RELAXED_RATE_LIMIT_FACTOR = 1000;

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

/** Scopes every /mcp request needs: REQUIRED_SCOPES, else the first granted scope. */
function requiredScopes(c: Config): string[] {
  const required = c.REQUIRED_SCOPES ?? c.OAUTH_SCOPES.slice(0, 1);
  const unknown = required.filter((s) => !c.OAUTH_SCOPES.includes(s));
  if (unknown.length > 0) {
    throw new ConfigError(`invalid configuration:\n  REQUIRED_SCOPES: ${unknown.join(' ')} not in OAUTH_SCOPES, so no token could ever carry them`);
  }
  return required;
}

export function setupIntegratedAuth(deps: AuthDeps): AuthModeSetup {
  const { config, redis, keys, log } = deps;
  const as = createAuthorizationServer({
    issuer: config.BASE_URI,
    resources: [config.mcpUrl],
    scopes: config.OAUTH_SCOPES,
    redis,
    keys,
    log: log.child({ component: 'oauth' }),
    lifetimes: lifetimesFromConfig(config),
    rateLimit: {
      multiplier: config.OAUTH_RATE_LIMIT_RELAXED ? RELAXED_RATE_LIMIT_FACTOR : 1,
      // The embedded stand-in (no REDIS_URL) cannot run rate-limit-redis's scripts; it is
      // single-instance anyway, so per-process counters are exact there.
      store: config.REDIS_URL ? 'redis' : 'memory',
    },
    trustProxyHops: config.TRUST_PROXY_HOPS,
    introspectionClients: introspectionClientsFromConfig(config),
    serviceName: 'MCP everything server',
  });
  const router = express.Router();
  router.use(
    protectedResourceMetadataRouter({
      resource: config.mcpUrl,
      authorizationServer: as.metadata.issuer,
      scopesSupported: config.OAUTH_SCOPES,
      resourceName: 'MCP everything server',
    }),
  );
  router.use(as.router);
  return {
    router,
    authenticate: bearerAuth({
      verifier: as.verifierFor([config.mcpUrl]),
      resourceMetadataUrl: protectedResourceMetadataUrl(config.mcpUrl),
      requiredScopes: requiredScopes(config),
    }),
    close: () => as.close(),
  };
}
