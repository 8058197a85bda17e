/**
 * OAuth errors (RFC 6749 §5.2, RFC 6750 §3.1, RFC 7591 §3.2.2) are SDK v2's one `OAuthError`
 * class with a stable `code`; callers branch on the code, never on message text. These shorthands
 * name the two checks every verifier and handler makes.
 */
import { OAuthError, OAuthErrorCode } from '@modelcontextprotocol/server';

export { OAuthError, OAuthErrorCode };

/** A bad, expired, revoked or foreign token (→ 401 with a Bearer challenge). */
export function invalidToken(description: string): OAuthError {
  return new OAuthError(OAuthErrorCode.InvalidToken, description);
}

export function isOAuthError(err: unknown, code?: OAuthErrorCode): err is OAuthError {
  return err instanceof OAuthError && (code === undefined || err.code === code);
}
