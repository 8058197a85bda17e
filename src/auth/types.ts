/**
 * The auth seam between the HTTP layer and whichever auth mode is configured. A verifier turns a
 * bearer token into the SDK's `AuthInfo`; the owning user id travels in `authInfo.extra.userId`.
 * Verifiers must throw the SDK's `OAuthError` with code `invalid_token` (→ 401) for bad tokens; a
 * plain Error is a bug or an outage (→ the app's error handler, 500).
 *
 * Types come from SDK v2 (`@modelcontextprotocol/server`); it ships no Express augmentation of its
 * own outside `@modelcontextprotocol/express`, so `req.auth` is declared here with the same type.
 */
import type { AuthInfo, OAuthTokenVerifier } from '@modelcontextprotocol/server';
import type { RequestHandler, Router } from 'express';

export type { AuthInfo, OAuthTokenVerifier };

declare module 'express-serve-static-core' {
  interface Request {
    /** The verified token's identity, set by the bearer middleware (never the raw token). */
    auth?: AuthInfo;
  }
}

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
