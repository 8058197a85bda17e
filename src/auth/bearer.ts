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
 *
 * Revocation in one round trip with the rate limits: when the guard chain collects checks for one
 * Redis round trip after authentication (`req.deferredChecks`, src/http/rateLimit.ts) and the
 * verifier can split its work (`DeferringVerifier`), the token is verified locally here and its
 * revocation check joins the batch; the batch's answer refuses a revoked token with the very 401
 * this middleware would have sent, and a batch Redis cannot answer with a 503 (the revocation
 * status is unknown: never let such a token through). Every other path checks at once.
 */
import type { Request, RequestHandler, Response } from 'express';
import { OAuthError, OAuthErrorCode, invalidToken, isOAuthError } from './oauthError.js';
import { AuthServerUnavailableError } from './separate/errors.js';
import type { AuthInfo, OAuthTokenVerifier } from './types.js';
import { userIdOf } from './types.js';

/** A verifier that can leave the revocation check to the caller. */
export interface DeferringVerifier extends OAuthTokenVerifier {
  /** Everything but revocation; `liveKey` is the Redis key that must still exist for the token to be valid. */
  verifyLocally(token: string): Promise<{ info: AuthInfo; liveKey: string }>;
}

/** What a refused or unanswerable liveness check answers (see `DeferredChecks.requireLive`). */
export interface LivenessAnswers {
  revoked(res: Response): void;
  unavailable(res: Response): void;
}

/** The guard chain's checks settled in one Redis round trip after authentication (src/http/rateLimit.ts). */
export interface DeferredChecks {
  /** Whether the batch still takes checks (it settles once). */
  readonly open: boolean;
  /** Whether `requireLive` may be used (not with per-process counters: the caller checks itself). */
  readonly takesLiveness: boolean;
  /** Adds "`key` exists" to the batch; when it does not, or Redis cannot say, `answers` respond. */
  requireLive(key: string, answers: LivenessAnswers): void;
  /**
   * Authentication refuses the request without Redis: the checks collected before it (the
   * per-address limit) are settled first and may answer instead (429); else `refusal` runs.
   */
  refuse(req: Request, res: Response, refusal: () => void): void;
}

declare module 'express-serve-static-core' {
  interface Request {
    /** Set by the per-address rate limit, settled by the per-user one (src/http/rateLimit.ts). */
    deferredChecks?: DeferredChecks;
  }
}

function isDeferring(v: OAuthTokenVerifier): v is DeferringVerifier {
  return typeof (v as Partial<DeferringVerifier>).verifyLocally === 'function';
}

/** 503: the token's status cannot be established now (authorization server or revocation store unreachable). */
function unavailable(res: Response, retryAfterSeconds: number, description: string): void {
  res.set('Retry-After', String(retryAfterSeconds));
  res.status(503).json({ error: 'temporarily_unavailable', error_description: description });
}

const REVOCATION_UNREADABLE = 'The access token cannot be checked for revocation right now; retry later.';

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
  res
    .status(status)
    .json(err ? err.toResponseObject() : { error: 'invalid_token', error_description: 'Missing bearer token' });
}

export function bearerAuth(opts: BearerOptions): RequestHandler {
  const required = opts.requiredScopes ?? [];
  const skew = opts.clockSkewSeconds ?? 0;
  const verifier = opts.verifier;
  const deferring = isDeferring(verifier) ? verifier : undefined;
  const livenessAnswers: LivenessAnswers = {
    revoked: (res) => refuse(res, opts, invalidToken('token has been revoked')),
    unavailable: (res) => unavailable(res, 1, REVOCATION_UNREADABLE),
  };
  return async (req, res, next) => {
    // CORS preflights carry no credentials by design (Fetch standard); let the CORS layer answer.
    if (req.method === 'OPTIONS') return next();
    const deferred = req.deferredChecks?.open ? req.deferredChecks : undefined;
    // A refusal lets the checks collected before authentication speak first (see DeferredChecks).
    const answer = (refusal: () => void) => (deferred ? deferred.refuse(req, res, refusal) : refusal());
    const header = req.headers.authorization;
    if (!header) return answer(() => refuse(res, opts, undefined));
    const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*)\s*$/i.exec(header);
    if (!match?.[1])
      return answer(() => refuse(res, opts, invalidToken("Invalid Authorization header, expected 'Bearer TOKEN'")));

    let info: AuthInfo;
    let liveKey: string | undefined;
    try {
      if (deferred?.takesLiveness && deferring) ({ info, liveKey } = await deferring.verifyLocally(match[1]));
      else info = await verifier.verifyAccessToken(match[1]);
    } catch (err) {
      if (err instanceof AuthServerUnavailableError) {
        const e = err;
        return answer(() =>
          unavailable(
            res,
            e.retryAfterSeconds,
            'The authorization server cannot be reached to validate the access token; retry later.',
          ),
        );
      }
      if (isOAuthError(err, OAuthErrorCode.InvalidToken)) {
        const e = err;
        return answer(() => refuse(res, opts, e));
      }
      return next(err);
    }

    if (typeof info.expiresAt !== 'number' || Number.isNaN(info.expiresAt)) {
      return answer(() => refuse(res, opts, invalidToken('Token has no expiration time')));
    }
    if (info.expiresAt + skew < Date.now() / 1000)
      return answer(() => refuse(res, opts, invalidToken('Token has expired')));
    // A verifier that forgets the user id must not yield an ownerless session.
    if (!userIdOf(info)) return answer(() => refuse(res, opts, invalidToken('Token carries no user identity')));
    if (!required.every((s) => info.scopes.includes(s))) {
      return answer(() => refuse(res, opts, new OAuthError(OAuthErrorCode.InsufficientScope, 'Insufficient scope')));
    }
    if (liveKey !== undefined) deferred!.requireLive(liveKey, livenessAnswers);
    // The raw token goes no further than here: nothing downstream may forward it (MCP
    // authorization, "Token Passthrough"), and it must never travel in Redis messages.
    req.auth = { ...info, token: '' };
    next();
  };
}
