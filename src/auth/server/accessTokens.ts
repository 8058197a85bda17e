/**
 * Access tokens: short-lived JWTs in the RFC 9068 profile (`typ: at+jwt`; iss, sub, aud, client_id,
 * scope, iat, exp, jti) plus `gid`, the grant they belong to. Verification is local (signature and
 * claims with jose) plus one Redis EXISTS on the grant, which is how revocation reaches every
 * instance: revoking deletes the grant, and the next request carrying any of its tokens fails.
 * On /mcp that EXISTS rides in the guard chain's one round trip with the rate limits (bearer.ts).
 */
import { SignJWT, errors as joseErrors, jwtVerify, type JWTHeaderParameters } from 'jose';
import { LRUCache } from 'lru-cache';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { invalidToken, isOAuthError } from '../oauthError.js';
import type { DeferringVerifier } from '../bearer.js';
import { AuthServerUnavailableError } from '../separate/errors.js';
import type { AuthInfo } from '../types.js';
import { SIGNING_ALG, type SigningKeys } from './signingKeys.js';
import type { Grant, GrantStore } from './stores/grants.js';

export const ACCESS_TOKEN_TYP = 'at+jwt';

export const AccessTokenClaimsSchema = z.object({
  iss: z.string(),
  sub: z.string().min(1),
  aud: z.string(),
  client_id: z.string(),
  scope: z.string(),
  gid: z.string(),
  jti: z.string(),
  iat: z.number(),
  exp: z.number(),
});
export type AccessTokenClaims = z.infer<typeof AccessTokenClaimsSchema>;

export interface IssuedAccessToken {
  token: string;
  expiresIn: number;
  scopes: string[];
}

export class AccessTokens {
  constructor(
    private readonly keys: SigningKeys,
    private readonly issuer: string,
    /** Upper bound of an access token's lifetime. */
    readonly lifetimeSeconds: number,
    private readonly clock: () => number,
  ) {}

  async issue(grant: Grant, scopes: string[]): Promise<IssuedAccessToken> {
    const now = Math.floor(this.clock() / 1000);
    // Never outlive the grant: a token must not stay valid after its parent has expired.
    const exp = Math.min(now + this.lifetimeSeconds, Math.floor(grant.expiresAt / 1000));
    const { kid, privateKey } = await this.keys.current();
    const token = await new SignJWT({ client_id: grant.clientId, scope: scopes.join(' '), gid: grant.id })
      .setProtectedHeader({ alg: SIGNING_ALG, typ: ACCESS_TOKEN_TYP, kid })
      .setIssuer(this.issuer)
      .setSubject(grant.userId)
      .setAudience(grant.resource)
      .setIssuedAt(now)
      .setExpirationTime(exp)
      .setJti(randomBytes(16).toString('base64url'))
      .sign(privateKey);
    return { token, expiresIn: exp - now, scopes };
  }

  /** The current time in ms, by this issuer's clock (injectable in tests). */
  now(): number {
    return this.clock();
  }

  /**
   * Signature, issuer, typ, audience and (unless `ignoreExpiry`) lifetime; throws `invalid_token`
   * with a description the bearer middleware puts in WWW-Authenticate.
   */
  async verify(
    token: string,
    audiences: readonly string[],
    opts: { ignoreExpiry?: boolean } = {},
  ): Promise<AccessTokenClaims> {
    const getKey = async (header: JWTHeaderParameters) => {
      if (!header.kid) throw invalidToken('token has no key id');
      const key = await this.keys.publicKey(header.kid);
      if (!key) throw invalidToken('token signed by an unknown key');
      return key;
    };
    try {
      const { payload } = await jwtVerify(token, getKey, {
        issuer: this.issuer,
        audience: [...audiences],
        algorithms: [SIGNING_ALG],
        typ: ACCESS_TOKEN_TYP,
        requiredClaims: ['sub', 'exp', 'iat', 'jti', 'aud'],
        currentDate: new Date(this.clock()),
        clockTolerance: opts.ignoreExpiry ? Number.MAX_SAFE_INTEGER : 0,
      });
      const claims = AccessTokenClaimsSchema.safeParse(payload);
      if (!claims.success) throw invalidToken('token claims are malformed');
      return claims.data;
    } catch (err) {
      if (isOAuthError(err)) throw err;
      if (err instanceof joseErrors.JWTExpired) throw invalidToken('token has expired');
      if (err instanceof joseErrors.JWTClaimValidationFailed && err.claim === 'aud') {
        throw invalidToken('token was not issued for this resource');
      }
      if (err instanceof joseErrors.JOSEError) throw invalidToken('invalid token');
      throw err;
    }
  }
}

/**
 * The resource server's verifier (the hot path of every MCP request): local JWT verification plus
 * one Redis EXISTS for revocation, which the bearer middleware may batch with the rate limits
 * (`verifyLocally`). AuthInfo carries the user id in `extra.userId` (from `sub`). Revocation
 * status that cannot be read (Redis unreachable) is an outage, never a pass: 503.
 */
export function createAccessTokenVerifier(opts: {
  tokens: AccessTokens;
  grants: GrantStore;
  /** The resource(s) this verifier protects; a token for any other audience is refused. */
  audiences: readonly string[];
}): DeferringVerifier {
  // A signature check costs ~0.25 ms of CPU (ES256) and a client sends the same token on every
  // request: remember verified claims, bounded in size and never past the token's expiry. The
  // revocation check still runs on every request, so revocation takes effect at once.
  const verified = new LRUCache<string, AccessTokenClaims>({ max: 10_000, ttl: 60_000, ttlAutopurge: false });
  const verifyLocally = async (token: string): Promise<{ info: AuthInfo; liveKey: string }> => {
    let claims = verified.get(token);
    if (claims && claims.exp * 1000 <= opts.tokens.now()) {
      verified.delete(token);
      claims = undefined;
    }
    if (!claims) {
      claims = await opts.tokens.verify(token, opts.audiences);
      verified.set(token, claims, { ttl: Math.max(1, Math.min(60_000, claims.exp * 1000 - opts.tokens.now())) });
    }
    const info: AuthInfo = {
      token,
      clientId: claims.client_id,
      scopes: claims.scope.split(' ').filter((s) => s.length > 0),
      expiresAt: claims.exp,
      resource: new URL(claims.aud),
      extra: { userId: claims.sub, grantId: claims.gid, jti: claims.jti },
    };
    return { info, liveKey: opts.grants.grantKey(claims.gid) };
  };
  return {
    verifyLocally,
    async verifyAccessToken(token: string): Promise<AuthInfo> {
      const { info } = await verifyLocally(token);
      let live: boolean;
      try {
        live = await opts.grants.isLive(info.extra!['grantId'] as string);
      } catch (err) {
        throw new AuthServerUnavailableError('revocation status unreadable', 1, { cause: err });
      }
      if (!live) throw invalidToken('token has been revoked');
      return info;
    },
  };
}
