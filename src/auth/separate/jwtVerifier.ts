/**
 * Strategy 1: access tokens are JWTs (RFC 9068) signed by the external AS; verified locally with
 * jose against the AS's JWKS. The JWKS is fetched once and cached by jose; an unknown `kid`
 * triggers at most one refetch per cooldown (key rotation without a restart, but a stream of
 * forged kids cannot make us hammer the AS). No network on the hot path.
 */
import { InvalidTokenError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import { createRemoteJWKSet, customFetch, decodeJwt, decodeProtectedHeader, errors, jwtVerify } from 'jose';
import type { OAuthTokenVerifier } from '../types.js';
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

// Errors that mean "the key material could not be obtained", not "this token is bad".
const KEY_SOURCE_FAILURES = new Set(['ERR_JWKS_TIMEOUT', 'ERR_JWKS_INVALID', 'ERR_JOSE_GENERIC']);

export function createJwtVerifier(opts: JwtVerifierOptions): OAuthTokenVerifier {
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
      // Cheap local checks first, so garbage, `alg: none` and other issuers' tokens are refused
      // without discovery or a JWKS refetch (they cannot be used to make us call the AS).
      let alg: string | undefined;
      let iss: unknown;
      try {
        alg = decodeProtectedHeader(token).alg;
        iss = decodeJwt(token).iss;
      } catch {
        throw new InvalidTokenError('access token is not a JWT');
      }
      if (!alg || !opts.algorithms.includes(alg)) throw new InvalidTokenError('token signing algorithm not allowed');
      if (typeof iss !== 'string' || !sameIssuer(iss, opts.issuer)) throw new InvalidTokenError('token issued by another issuer');

      const { jwks: keySet, issuer } = await keys();
      try {
        const { payload } = await jwtVerify(token, keySet, {
          issuer,
          audience: opts.audiences,
          algorithms: opts.algorithms,
          clockTolerance: opts.clockSkewSeconds,
          requiredClaims: ['exp'],
          ...(opts.requiredTyp ? { typ: opts.requiredTyp } : {}),
        });
        return toAuthInfo(payload, opts.mapping);
      } catch (err) {
        if (err instanceof AuthServerUnavailableError || err instanceof InvalidTokenError) throw err;
        if (err instanceof errors.JOSEError && KEY_SOURCE_FAILURES.has(err.code)) {
          throw new AuthServerUnavailableError(`JWKS unavailable: ${err.message}`, 5, { cause: err });
        }
        if (err instanceof errors.JWTExpired) throw new InvalidTokenError('token expired');
        if (err instanceof errors.JOSEError) throw new InvalidTokenError(describe(err));
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
