/**
 * Integrated mode (AUTH_MODE=integrated, the default): this deployment is both the MCP resource
 * server and its own OAuth 2.1 authorization server. The router serves the Protected Resource
 * Metadata (both well-known forms) and the whole authorization server at the app root; /mcp is
 * guarded by the shared bearer middleware over the authorization server's local verifier, which
 * accepts only tokens whose audience is this server's /mcp URL.
 */
import express from 'express';
import { invalidConfig, type Config } from '../config.js';
import { bearerAuth } from './bearer.js';
import type { AuthDeps } from './index.js';
import { authorizationServerFromConfig } from './server/fromConfig.js';
import { protectedResourceMetadataRouter, protectedResourceMetadataUrl } from './separate/protectedResourceMetadata.js';
import type { AuthModeSetup } from './types.js';

/** Scopes every /mcp request needs: REQUIRED_SCOPES, else the first granted scope. */
function requiredScopes(c: Config): string[] {
  const required = c.REQUIRED_SCOPES ?? c.OAUTH_SCOPES.slice(0, 1);
  const unknown = required.filter((s) => !c.OAUTH_SCOPES.includes(s));
  if (unknown.length > 0) {
    throw invalidConfig(`REQUIRED_SCOPES: ${unknown.join(' ')} not in OAUTH_SCOPES, so no token could ever carry them`);
  }
  return required;
}

export function setupIntegratedAuth(deps: AuthDeps): AuthModeSetup {
  const { config, redis, keys, log } = deps;
  const as = authorizationServerFromConfig(config, {
    issuer: config.BASE_URI,
    resources: [config.mcpUrl],
    redis,
    keys,
    log,
    serviceName: 'MCP everything server',
    devLoginExposed: config.devLoginExposed,
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
  log.info(
    { sessionBinding: 'user+client' },
    'MCP sessions are bound to the user and the OAuth client that created them',
  );
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
