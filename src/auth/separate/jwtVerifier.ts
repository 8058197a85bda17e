/**
 * Strategy 1: access tokens are JWTs (RFC 9068) signed by the external AS; verified locally with
 * jose against the AS's JWKS. The JWKS is fetched once and cached by jose; an unknown `kid`
 * triggers at most one refetch per cooldown (key rotation without a restart, but a stream of
 * forged kids cannot make us hammer the AS). No network on the hot path.
 *
 * ID tokens are not access tokens (security review finding 2). An OIDC provider signs both with
 * the same key, and an ID token's `aud` is the client's id, which IdPs without resource indicators
 * make an accepted audience (Entra). So unless the header says `typ: at+jwt` (RFC 9068 §2.1, which
 * an ID token never carries), a token is refused when it carries what only ID tokens carry
 * (`nonce`, `at_hash`, `c_hash`, `s_hash`; Keycloak's `typ: ID` claim) or no scope claim at all
 * (access tokens of Okta, Entra, Keycloak and Auth0 all carry `scope` or `scp`).
 */
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { createRemoteJWKSet, customFetch, decodeJwt, decodeProtectedHeader, errors, jwtVerify } from 'jose';
import { invalidToken, isOAuthError } from '../oauthError.js';
import type { AuthInfo, OAuthTokenVerifier } from '../types.js';
import type { AuthServerFetch } from './authServerFetch.js';
import { toAuthInfo, type ClaimMapping } from './authInfo.js';
import type { AuthorizationServerMetadata } from './discovery.js';
import { sameIssuer } from './discovery.js';
import { AuthServerUnavailableError } from './errors.js';

export interface JwtVerifierOptions {
  /** Configured issuer; the discovered metadata's exact `issuer` value is what `iss` must equal. */
  issuer: string;
  discover: () => Promise<AuthorizationServerMetadata>;
  fetchAs: AuthServerFetch;
  /** This resource's URL plus ACCEPTED_AUDIENCES; `aud` must contain one of them. */
  audiences: string[];
  algorithms: string[];
  clockSkewSeconds: number;
  jwksCooldownSeconds: number;
  timeoutMs: number;
  requiredTyp?: string;
  mapping: ClaimMapping;
}

/**
 * A signature check (ES256/RS256 through WebCrypto) is expensive next to the rest of a request
 * (docs/performance.md), and clients reuse one token for many requests. So a verified
 * token's AuthInfo is remembered, keyed by a hash of the exact token string, for at most
 * VERIFIED_TTL_MS and never past its exp. The bound means a key withdrawn from the JWKS (or a
 * changed audience setting) stops being honoured within VERIFIED_TTL_MS without a restart.
 */
const VERIFIED_CACHE_MAX = 10_000;
const VERIFIED_TTL_MS = 60_000;

// Errors that mean "the key material could not be obtained", not "this token is bad".
const KEY_SOURCE_FAILURES = new Set(['ERR_JWKS_TIMEOUT', 'ERR_JWKS_INVALID', 'ERR_JOSE_GENERIC']);

const ID_TOKEN_ONLY_CLAIMS = ['nonce', 'at_hash', 'c_hash', 's_hash'];

/** RFC 9068 §4: `at+jwt`, or its full media type. */
function isAccessTokenTyp(typ: unknown): boolean {
  return typeof typ === 'string' && ['at+jwt', 'application/at+jwt'].includes(typ.toLowerCase());
}

/** True when a verified token looks like an ID token rather than an access token. */
export function looksLikeIdToken(typ: unknown, payload: Record<string, unknown>): boolean {
  if (isAccessTokenTyp(typ)) return false;
  if (ID_TOKEN_ONLY_CLAIMS.some((c) => payload[c] !== undefined)) return true;
  if (payload['typ'] === 'ID') return true;
  return payload['scope'] === undefined && payload['scp'] === undefined;
}

export function createJwtVerifier(opts: JwtVerifierOptions): OAuthTokenVerifier {
  const verified = new LRUCache<string, AuthInfo>({ max: VERIFIED_CACHE_MAX });
  let jwks: ReturnType<typeof createRemoteJWKSet> | undefined;

  const keys = async (): Promise<{ jwks: ReturnType<typeof createRemoteJWKSet>; issuer: string }> => {
    const meta = await opts.discover();
    if (!meta.jwks_uri) {
      throw new AuthServerUnavailableError(`issuer ${meta.issuer} publishes no jwks_uri`, 30);
    }
    jwks ??= createRemoteJWKSet(new URL(meta.jwks_uri), {
      cooldownDuration: opts.jwksCooldownSeconds * 1000,
      timeoutDuration: opts.timeoutMs,
      [customFetch]: opts.fetchAs,
    });
    return { jwks, issuer: meta.issuer };
  };

  return {
    async verifyAccessToken(token) {
      const key = createHash('sha256').update(token).digest('base64url');
      const hit = verified.get(key);
      if (hit) {
        if ((hit.expiresAt ?? 0) + opts.clockSkewSeconds < Date.now() / 1000) throw invalidToken('token expired');
        return hit;
      }
      // Cheap local checks first, so garbage, `alg: none` and other issuers' tokens are refused
      // without discovery or a JWKS refetch (they cannot be used to make us call the AS).
      let alg: string | undefined;
      let iss: unknown;
      try {
        alg = decodeProtectedHeader(token).alg;
        iss = decodeJwt(token).iss;
      } catch {
        throw invalidToken('access token is not a JWT');
      }
      if (!alg || !opts.algorithms.includes(alg)) throw invalidToken('token signing algorithm not allowed');
      if (typeof iss !== 'string' || !sameIssuer(iss, opts.issuer))
        throw invalidToken('token issued by another issuer');

      const { jwks: keySet, issuer } = await keys();
      try {
        const { payload, protectedHeader } = await jwtVerify(token, keySet, {
          issuer,
          audience: opts.audiences,
          algorithms: opts.algorithms,
          clockTolerance: opts.clockSkewSeconds,
          requiredClaims: ['exp'],
          ...(opts.requiredTyp ? { typ: opts.requiredTyp } : {}),
        });
        if (looksLikeIdToken(protectedHeader.typ, payload)) throw invalidToken('an ID token is not an access token');
        const info = toAuthInfo(payload, opts.mapping);
        const ttl = Math.min(VERIFIED_TTL_MS, (info.expiresAt ?? 0) * 1000 - Date.now());
        if (ttl > 0) verified.set(key, info, { ttl });
        return info;
      } catch (err) {
        if (err instanceof AuthServerUnavailableError || isOAuthError(err)) throw err;
        if (err instanceof errors.JOSEError && KEY_SOURCE_FAILURES.has(err.code)) {
          throw new AuthServerUnavailableError(`JWKS unavailable: ${err.message}`, 5, { cause: err });
        }
        if (err instanceof errors.JWTExpired) throw invalidToken('token expired');
        if (err instanceof errors.JOSEError) throw invalidToken(describe(err));
        throw err;
      }
    },
  };
}

/** Stable, client-safe descriptions (never echo token contents back). */
function describe(err: InstanceType<typeof errors.JOSEError>): string {
  if (err instanceof errors.JWTClaimValidationFailed) return `token ${err.claim} claim check failed`;
  if (err instanceof errors.JWKSNoMatchingKey) return 'token signed with an unknown key';
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'token signature invalid';
  if (err instanceof errors.JOSEAlgNotAllowed) return 'token signing algorithm not allowed';
  return 'token invalid';
}
