/**
 * Bearer authentication for /mcp (RFC 6750), the one place where token-verification outcomes are
 * mapped to HTTP:
 * - no credentials → 401 with a challenge carrying `resource_metadata` (RFC 9728 §5.1) and
 *   `scope`, and no error code (RFC 6750 §3.1);
 * - a bad, expired or ownerless token → 401 `invalid_token`;
 * - missing required scopes → 403 `insufficient_scope` naming every scope needed (MCP
 *   authorization, "Scope Challenge Handling"), so clients can step up;
 * - the authorization server unreachable → 503 + Retry-After + `temporarily_unavailable`: a 401
 *   here would send every client into a re-login loop against an AS that is down.
 * Why not SDK v2's `requireBearerAuth`/`verifyBearerToken`: they turn any non-OAuth error into 500
 * (no 503 for an unreachable AS), accept `Bearer a b` by splitting on the first space, and check
 * `expiresAt` with no clock-skew tolerance. The checks below are the same otherwise.
 * It only sets its own headers and status, so CORS headers set earlier survive on every answer.
 */
import type { RequestHandler, Response } from 'express';
import { OAuthError, OAuthErrorCode, invalidToken, isOAuthError } from './oauthError.js';
import { AuthServerUnavailableError } from './separate/errors.js';
import type { AuthInfo, OAuthTokenVerifier } from './types.js';
import { userIdOf } from './types.js';

export interface BearerOptions {
  verifier: OAuthTokenVerifier;
  /** URL of this resource's Protected Resource Metadata document. */
  resourceMetadataUrl?: string;
  requiredScopes?: string[];
  /** Tolerance when checking `expiresAt` (the verifier applied the same one). */
  clockSkewSeconds?: number;
}

// RFC 6750 §3: quoted auth-param values are limited to %x20-21 / %x23-5B / %x5D-7E.
const quoted = (s: string) => `"${s.replace(/[^\x20\x21\x23-\x5b\x5d-\x7e]/g, '')}"`;

function challenge(opts: BearerOptions, error?: { code: string; description: string }): string {
  const params: string[] = [];
  if (error) params.push(`error=${quoted(error.code)}`, `error_description=${quoted(error.description)}`);
  if (opts.requiredScopes?.length) params.push(`scope=${quoted(opts.requiredScopes.join(' '))}`);
  if (opts.resourceMetadataUrl) params.push(`resource_metadata=${quoted(opts.resourceMetadataUrl)}`);
  return params.length ? `Bearer ${params.join(', ')}` : 'Bearer';
}

function refuse(res: Response, opts: BearerOptions, err: OAuthError | undefined): void {
  const status = err?.code === OAuthErrorCode.InsufficientScope ? 403 : 401;
  res.set('WWW-Authenticate', challenge(opts, err && { code: err.code, description: err.message }));
  res.status(status).json(err ? err.toResponseObject() : { error: 'invalid_token', error_description: 'Missing bearer token' });
}

export function bearerAuth(opts: BearerOptions): RequestHandler {
  const required = opts.requiredScopes ?? [];
  const skew = opts.clockSkewSeconds ?? 0;
  return async (req, res, next) => {
    // CORS preflights carry no credentials by design (Fetch standard); let the CORS layer answer.
    if (req.method === 'OPTIONS') return next();
    const header = req.headers.authorization;
    if (!header) return refuse(res, opts, undefined);
    const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*)\s*$/i.exec(header);
    if (!match?.[1]) return refuse(res, opts, invalidToken("Invalid Authorization header, expected 'Bearer TOKEN'"));

    let info: AuthInfo;
    try {
      info = await opts.verifier.verifyAccessToken(match[1]);
    } catch (err) {
      if (err instanceof AuthServerUnavailableError) {
        res.set('Retry-After', String(err.retryAfterSeconds));
        res.status(503).json({
          error: err.code,
          error_description: 'The authorization server cannot be reached to validate the access token; retry later.',
        });
        return;
      }
      if (isOAuthError(err, OAuthErrorCode.InvalidToken)) return refuse(res, opts, err);
      return next(err);
    }

    if (typeof info.expiresAt !== 'number' || Number.isNaN(info.expiresAt)) {
      return refuse(res, opts, invalidToken('Token has no expiration time'));
    }
    if (info.expiresAt + skew < Date.now() / 1000) return refuse(res, opts, invalidToken('Token has expired'));
    // A verifier that forgets the user id must not yield an ownerless session.
    if (!userIdOf(info)) return refuse(res, opts, invalidToken('Token carries no user identity'));
    if (!required.every((s) => info.scopes.includes(s))) {
      return refuse(res, opts, new OAuthError(OAuthErrorCode.InsufficientScope, 'Insufficient scope'));
    }
    // The raw token goes no further than here: nothing downstream may forward it (MCP
    // authorization, "Token Passthrough"), and it must never travel in Redis messages.
    req.auth = { ...info, token: '' };
    next();
  };
}
