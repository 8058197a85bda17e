/**
 * The auth seam between the HTTP layer and whichever auth mode is configured. A verifier turns a
 * bearer token into the SDK's `AuthInfo`; the owning user id travels in `authInfo.extra.userId`.
 * Verifiers must throw the SDK's `InvalidTokenError` (→ 401) for bad tokens; a plain Error → 500.
 */
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import type { OAuthTokenVerifier } from '@modelcontextprotocol/sdk/server/auth/provider.js';
import type { RequestHandler, Router } from 'express';

export type { AuthInfo, OAuthTokenVerifier };

/** What an auth mode contributes to the app. */
export interface AuthModeSetup {
  /** Routes served at the app root (metadata, OAuth endpoints, login pages). */
  router?: Router;
  /** Authenticates /mcp (and the other protected routes); sets `req.auth` with extra.userId. */
  authenticate: RequestHandler;
  /** Release timers/connections owned by the mode. */
  close?(): Promise<void>;
}

export function userIdOf(auth: AuthInfo | undefined): string | undefined {
  const id = auth?.extra?.['userId'];
  return typeof id === 'string' && id.length > 0 ? id : undefined;
}
