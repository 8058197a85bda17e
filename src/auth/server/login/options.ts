/**
 * Who vouches for the user at sign-in (LOGIN_PROVIDER, docs/oauth.md "Sign-in providers"):
 * - `dev`: the test page where anyone types any user id (the Inspector workflow, loopback only
 *   unless explicitly allowed);
 * - `oidc`: an upstream OpenID Connect provider (Okta, Entra, Keycloak, Auth0, …); this server
 *   still issues its own tokens to MCP clients.
 */
export interface OidcLoginOptions {
  provider: 'oidc';
  /** Issuer identifier; discovery reads `${issuer}/.well-known/openid-configuration`. */
  issuer: string;
  clientId: string;
  /** Absent = a public client (PKCE only). */
  clientSecret?: string;
  /** Must contain `openid`. */
  scopes: string[];
  /** The claim whose value, prefixed with the issuer, becomes our user id. */
  userClaim: string;
  /** When set, only users whose verified `email` is in one of these domains may sign in. */
  allowedDomains?: string[];
  /** Bound on every request to the provider (discovery, token, JWKS). */
  timeoutMs: number;
}

export type LoginOptions = { provider: 'dev' } | OidcLoginOptions;
