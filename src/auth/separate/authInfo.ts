/**
 * Turns validated token claims (a JWT payload or an RFC 7662 introspection response) into the
 * SDK's AuthInfo. Both validation strategies go through here, so a session is owned by the same
 * user whichever one is configured.
 */
import { invalidToken } from '../oauthError.js';
import type { AuthInfo } from '../types.js';

export interface ClaimMapping {
  /** Claim naming the user who owns sessions (USER_ID_CLAIM, default `sub`). */
  userIdClaim: string;
  /** This resource's canonical URL (RFC 8707), reported as AuthInfo.resource. */
  resource: string;
}

type Claims = Record<string, unknown>;

/**
 * Scopes: RFC 9068 §2.2.3 / RFC 7662 §2.2 use a space-separated `scope`; Okta puts an array in
 * `scp`, Entra a space-separated string in `scp`.
 */
export function scopesOf(claims: Claims): string[] {
  const raw = claims['scope'] ?? claims['scp'];
  if (typeof raw === 'string') return raw.split(' ').filter((s) => s.length > 0);
  if (Array.isArray(raw)) return raw.filter((s): s is string => typeof s === 'string');
  return [];
}

/** RFC 9068 `client_id`; `azp` (OIDC), `cid` (Okta) and `appid` (Entra v1) as fallbacks. */
export function clientIdOf(claims: Claims): string {
  for (const name of ['client_id', 'azp', 'cid', 'appid']) {
    const v = claims[name];
    if (typeof v === 'string' && v.length > 0) return v;
  }
  return '';
}

/** True when `aud` (string or array, RFC 7519 §4.1.3) names one of the accepted audiences. */
export function audienceMatches(aud: unknown, accepted: readonly string[]): boolean {
  const values = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : [];
  return values.some((v) => typeof v === 'string' && accepted.includes(v));
}

export function toAuthInfo(claims: Claims, mapping: ClaimMapping): AuthInfo {
  const userId = claims[mapping.userIdClaim];
  if (typeof userId !== 'string' || userId.length === 0) {
    throw invalidToken(`token carries no ${mapping.userIdClaim} claim`);
  }
  const exp = claims['exp'];
  if (typeof exp !== 'number' || !Number.isFinite(exp)) {
    throw invalidToken('token has no expiration time');
  }
  return {
    // The raw token is never kept: nothing downstream may forward it (MCP authorization spec,
    // "Token Passthrough"), and it must not end up in Redis messages or caches.
    token: '',
    clientId: clientIdOf(claims),
    scopes: scopesOf(claims),
    expiresAt: exp,
    resource: new URL(mapping.resource),
    extra: { userId, issuer: typeof claims['iss'] === 'string' ? claims['iss'] : undefined },
  };
}
