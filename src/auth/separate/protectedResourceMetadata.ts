/**
 * Protected Resource Metadata (RFC 9728) for separate mode: names the external authorization
 * server and nothing else; this server serves no authorization endpoints. Served at both
 * well-known locations MCP clients try (path-suffixed first, then root; MCP authorization
 * §"Protected Resource Metadata Discovery"), with open CORS so browser clients can read it.
 * (SDK 1.x's mcpAuthMetadataRouter served only the path-suffixed form and mirrors AS metadata,
 * which would need the AS reachable at start-up; hence this small router.)
 */
import {
  getOAuthProtectedResourceMetadataUrl,
  type OAuthProtectedResourceMetadata,
} from '@modelcontextprotocol/server';
import cors from 'cors';
import { Router } from 'express';

export interface PrmOptions {
  /** Canonical URL of the MCP endpoint (the RFC 8707 resource). */
  resource: string;
  /** Issuer identifier of the external AS. */
  authorizationServer: string;
  scopesSupported?: string[];
  resourceName?: string;
  documentationUrl?: string;
}

export function protectedResourceMetadataUrl(resource: string): string {
  return getOAuthProtectedResourceMetadataUrl(new URL(resource));
}

export function protectedResourceMetadata(opts: PrmOptions): OAuthProtectedResourceMetadata {
  return {
    resource: opts.resource,
    authorization_servers: [opts.authorizationServer],
    bearer_methods_supported: ['header'],
    ...(opts.scopesSupported?.length ? { scopes_supported: opts.scopesSupported } : {}),
    ...(opts.resourceName ? { resource_name: opts.resourceName } : {}),
    ...(opts.documentationUrl ? { resource_documentation: opts.documentationUrl } : {}),
  };
}

export function protectedResourceMetadataRouter(opts: PrmOptions): Router {
  const body = protectedResourceMetadata(opts);
  const suffixed = new URL(protectedResourceMetadataUrl(opts.resource)).pathname;
  const paths = [...new Set([suffixed, '/.well-known/oauth-protected-resource'])];
  const router = Router();
  const open = cors({ origin: '*', methods: ['GET', 'OPTIONS'] });
  for (const path of paths) {
    router.options(path, open);
    router.get(path, open, (_req, res) => {
      res.set('Cache-Control', 'public, max-age=300').json(body);
    });
  }
  return router;
}
