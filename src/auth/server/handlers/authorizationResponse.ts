/**
 * The authorization response (RFC 6749 §4.1.2 / §4.1.2.1) as a redirect URL: `code` or `error`,
 * `state` echoed exactly, and `iss` (RFC 9207 §2) on both so clients can detect mix-up attacks.
 */
import type { OAuthError } from '../../oauthError.js';

export function authorizationRedirect(
  redirectUri: string,
  r: { code?: string; error?: OAuthError; state: string | undefined; issuer: string },
): string {
  const u = new URL(redirectUri);
  if (r.code !== undefined) u.searchParams.set('code', r.code);
  if (r.error) {
    u.searchParams.set('error', r.error.code);
    u.searchParams.set('error_description', r.error.message);
  }
  if (r.state !== undefined) u.searchParams.set('state', r.state);
  u.searchParams.set('iss', r.issuer);
  return u.href;
}
