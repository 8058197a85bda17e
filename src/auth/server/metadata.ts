/**
 * RFC 8414 authorization server metadata, advertising exactly what is implemented, and the route
 * that serves it. Built here: SDK v2 has no authorization-server helpers (the frozen
 * `server-legacy` package aside), and 1.x's `createOAuthMetadata` could not express jwks_uri,
 * introspection, RFC 9207 `iss`, CIMD support or client_secret_basic.
 */
import cors from 'cors';
import { Router } from 'express';
import { allowedMethods } from './allowedMethods.js';
import { SUPPORTED_CLIENT_AUTH_METHODS, SUPPORTED_GRANT_TYPES } from './clientMetadata.js';
import { SIGNING_ALG } from './signingKeys.js';

export const ENDPOINTS = {
  authorize: '/authorize',
  token: '/token',
  register: '/register',
  revoke: '/revoke',
  introspect: '/introspect',
  jwks: '/.well-known/jwks.json',
  login: '/oauth/login',
  consent: '/oauth/consent',
  /** Where the upstream OpenID provider sends the browser back (LOGIN_PROVIDER=oidc). */
  callback: '/oauth/callback',
} as const;

export const METADATA_PATH = '/.well-known/oauth-authorization-server';

export function authorizationServerMetadata(opts: { issuer: string; scopes: string[]; introspection: boolean }) {
  const at = (path: string) => `${opts.issuer}${path}`;
  const secretMethods = SUPPORTED_CLIENT_AUTH_METHODS.filter((m) => m !== 'none');
  return {
    issuer: opts.issuer,
    authorization_endpoint: at(ENDPOINTS.authorize),
    token_endpoint: at(ENDPOINTS.token),
    registration_endpoint: at(ENDPOINTS.register),
    revocation_endpoint: at(ENDPOINTS.revoke),
    ...(opts.introspection ? { introspection_endpoint: at(ENDPOINTS.introspect) } : {}),
    jwks_uri: at(ENDPOINTS.jwks),
    scopes_supported: opts.scopes,
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: [...SUPPORTED_GRANT_TYPES],
    token_endpoint_auth_methods_supported: [...SUPPORTED_CLIENT_AUTH_METHODS],
    revocation_endpoint_auth_methods_supported: [...SUPPORTED_CLIENT_AUTH_METHODS],
    ...(opts.introspection ? { introspection_endpoint_auth_methods_supported: secretMethods } : {}),
    // PKCE: S256 only (OAuth 2.1 §4.1.1; MCP clients refuse an AS that does not list it).
    code_challenge_methods_supported: ['S256'],
    // RFC 9068 access tokens.
    access_token_signing_alg_values_supported: [SIGNING_ALG],
    // RFC 9207: every authorization response (success and error) carries `iss`.
    authorization_response_iss_parameter_supported: true,
    client_id_metadata_document_supported: true,
  };
}

export type AuthorizationServerMetadata = ReturnType<typeof authorizationServerMetadata>;

/** GET /.well-known/oauth-authorization-server (RFC 8414 §3), readable cross-origin by browser clients. */
export function metadataRouter(metadata: AuthorizationServerMetadata): Router {
  const router = Router();
  router.use(METADATA_PATH, cors(), allowedMethods(['GET', 'OPTIONS']));
  router.get(METADATA_PATH, (_req, res) => {
    res.setHeader('Cache-Control', 'public, max-age=3600');
    res.json(metadata);
  });
  return router;
}
