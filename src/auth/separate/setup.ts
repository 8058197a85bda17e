/**
 * Separate mode: this server is only an OAuth resource server. Authorization lives in an external
 * AS (our auth-server/ package, or the company's IdP); we publish Protected Resource Metadata that
 * names it and validate its tokens with the strategy chosen by TOKEN_VALIDATION.
 */
import type { Config } from '../../config.js';
import type { Logger } from '../../observability/logger.js';
import { bearerAuth } from '../bearer.js';
import type { AuthModeSetup, OAuthTokenVerifier } from '../types.js';
import { createAuthServerFetch, type Fetch } from './authServerFetch.js';
import { cachedDiscovery } from './discovery.js';
import { createIntrospectionVerifier } from './introspectionVerifier.js';
import { createJwtVerifier } from './jwtVerifier.js';
import { protectedResourceMetadataRouter, protectedResourceMetadataUrl } from './protectedResourceMetadata.js';

export interface SeparateAuthDeps {
  config: Config;
  log: Logger;
  /** Test seam; defaults to the global fetch. */
  fetch?: Fetch;
}

export interface SeparateAuthSetup extends AuthModeSetup {
  verifier: OAuthTokenVerifier;
}

export async function setupSeparateAuth(deps: SeparateAuthDeps): Promise<SeparateAuthSetup> {
  const { config, log } = deps;
  const issuer = config.AUTH_SERVER_URL;
  if (!issuer) throw new Error('AUTH_SERVER_URL is required in separate mode'); // loadConfig already enforces it
  const fetchAs = createAuthServerFetch({
    issuer,
    internalBaseUrl: config.AUTH_SERVER_INTERNAL_URL,
    timeoutMs: config.AUTH_SERVER_TIMEOUT_MS,
    retryAfterSeconds: config.AUTH_SERVER_RETRY_AFTER_SECONDS,
    fetch: deps.fetch,
    onTrip: (reason, cause) =>
      log.warn(
        { issuer, reason, err: (cause as Error | undefined)?.message },
        'authorization server unavailable; /mcp answers 503 until it recovers',
      ),
  });
  const discover = cachedDiscovery(issuer, fetchAs);
  const mapping = { userIdClaim: config.USER_ID_CLAIM, resource: config.mcpUrl };
  const audiences = [config.mcpUrl, ...(config.ACCEPTED_AUDIENCES ?? [])];

  const verifier =
    config.TOKEN_VALIDATION === 'introspection'
      ? createIntrospectionVerifier({
          issuer,
          discover,
          fetchAs,
          endpoint: config.INTROSPECTION_URL,
          clientId: config.INTROSPECTION_CLIENT_ID ?? '',
          clientSecret: config.INTROSPECTION_CLIENT_SECRET ?? '',
          authMethod: config.INTROSPECTION_AUTH_METHOD,
          audiences,
          clockSkewSeconds: config.JWT_CLOCK_SKEW_SECONDS,
          cacheMax: config.INTROSPECTION_CACHE_MAX,
          cacheTtlSeconds: config.INTROSPECTION_CACHE_TTL_SECONDS,
          negativeCacheSeconds: config.INTROSPECTION_NEGATIVE_CACHE_SECONDS,
          mapping,
        })
      : createJwtVerifier({
          issuer,
          discover,
          fetchAs,
          audiences,
          algorithms: config.ALLOWED_JWT_ALGS,
          clockSkewSeconds: config.JWT_CLOCK_SKEW_SECONDS,
          jwksCooldownSeconds: config.JWKS_COOLDOWN_SECONDS,
          timeoutMs: config.AUTH_SERVER_TIMEOUT_MS,
          requiredTyp: config.JWT_REQUIRED_TYP,
          mapping,
        });

  // Warm the metadata cache so the first request does not pay for discovery. Not awaited: the
  // server must start (and answer 503, then recover) even when the AS is down.
  discover().catch(() => undefined);
  log.info(
    {
      issuer,
      validation: config.TOKEN_VALIDATION,
      audiences,
      userIdClaim: config.USER_ID_CLAIM,
      // Defaults a deployment should know about (docs/deployment.md).
      idTokens: config.TOKEN_VALIDATION === 'jwt' ? 'refused unless typ at+jwt' : undefined,
      sessionBinding: 'user+client',
    },
    'separate auth mode: resource server for an external authorization server',
  );

  const scopes = config.REQUIRED_SCOPES ?? [];
  return {
    verifier,
    router: protectedResourceMetadataRouter({
      resource: config.mcpUrl,
      authorizationServer: issuer,
      scopesSupported: scopes,
      resourceName: 'MCP server',
    }),
    authenticate: bearerAuth({
      verifier,
      resourceMetadataUrl: protectedResourceMetadataUrl(config.mcpUrl),
      requiredScopes: scopes,
      clockSkewSeconds: config.JWT_CLOCK_SKEW_SECONDS,
    }),
  };
}
