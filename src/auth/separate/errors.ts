/**
 * Failures of the external authorization server, as opposed to failures of the token.
 *
 * A bad token is the client's problem: 401 + `invalid_token` sends it to re-authorize. An AS that
 * cannot be reached is nobody's token problem: answering 401 then would push every client into a
 * re-login loop against an AS that is down. So these surface as 503 + Retry-After (RFC 9110
 * §15.6.4) with the RFC 6749 `temporarily_unavailable` code; the mapping lives in ../bearer.ts.
 */
export class AuthServerUnavailableError extends Error {
  override name = 'AuthServerUnavailableError';
  readonly code = 'temporarily_unavailable';

  constructor(
    message: string,
    /** Whole seconds the client should wait before retrying (the Retry-After value). */
    readonly retryAfterSeconds: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
