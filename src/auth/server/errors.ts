/**
 * The one place where authorization-server errors become HTTP responses: RFC 6749 §5.2 JSON for
 * API endpoints, an HTML page for the browser-facing ones. Handlers throw SDK v2's `OAuthError`
 * (its `code` decides the status) or `UpstreamLoginError` (the upstream identity provider failed);
 * anything else is a bug or an outage, logged (without request data) and answered 500.
 */
import type { ErrorRequestHandler, Request, Response } from 'express';
import type { Logger } from '../../observability/logger.js';
import { OAuthError, OAuthErrorCode } from '../oauthError.js';
import { ENDPOINTS } from './metadata.js';
import { html, sendPage } from './pages/html.js';

/**
 * The upstream OpenID provider (LOGIN_PROVIDER=oidc) is unreachable (503), answered something
 * unusable (502), or sent a response that fails validation (400). Shown on our error page.
 */
export class UpstreamLoginError extends Error {
  override name = 'UpstreamLoginError';
  constructor(
    readonly code: 'temporarily_unavailable' | 'server_error' | 'access_denied' | 'invalid_request',
    message: string,
    readonly status: 400 | 403 | 502 | 503,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const STATUS: Partial<Record<string, number>> = {
  [OAuthErrorCode.ServerError]: 500,
  [OAuthErrorCode.TemporarilyUnavailable]: 503,
  [OAuthErrorCode.TooManyRequests]: 429,
  [OAuthErrorCode.MethodNotAllowed]: 405,
  // RFC 6749 §5.2 allows 401 for invalid_client and requires it when the client used the
  // Authorization header; answering 401 always keeps one shape for both methods.
  [OAuthErrorCode.InvalidClient]: 401,
};

function statusOf(err: OAuthError): number {
  return STATUS[err.code] ?? 400;
}

function asOAuthError(err: unknown, log: Logger, where: string): OAuthError {
  if (err instanceof OAuthError) return err;
  log.error(
    { err: err instanceof Error ? { name: err.name, message: err.message } : String(err), where },
    'authorization server error',
  );
  return new OAuthError(OAuthErrorCode.ServerError, 'Internal Server Error');
}

export function sendOAuthError(
  res: Response,
  err: unknown,
  log: Logger,
  where: string,
  basicAuthUsed = false,
  status?: number,
): void {
  const e = asOAuthError(err, log, where);
  if (e.code === OAuthErrorCode.InvalidClient && basicAuthUsed) {
    res.setHeader('WWW-Authenticate', 'Basic realm="oauth", charset="UTF-8"');
  }
  res.setHeader('Cache-Control', 'no-store');
  res.status(status ?? statusOf(e)).json(e.toResponseObject());
}

/**
 * Errors the browser shows instead of being sent back to the client: about the client or the
 * redirect URI (RFC 6749 §4.1.2.1: an unverified redirect URI could be an open redirector), any
 * error before the user signed in (RFC 9700 §4.11.2), and failures of the upstream sign-in.
 */
export function sendErrorPage(res: Response, err: unknown, log: Logger, where: string): void {
  let code: string;
  let message: string;
  let status: number;
  if (err instanceof UpstreamLoginError) {
    ({ code, message, status } = err);
    if (status >= 500) res.setHeader('Retry-After', '30');
  } else {
    const e = asOAuthError(err, log, where);
    ({ code, message } = e);
    status = statusOf(e);
  }
  sendPage(res, {
    status,
    title: 'Authorization error',
    body: html`<h1>Authorization error</h1>
<p class="error"><code>${code}</code>: ${message}</p>
<p>You are not being sent back to the application. Close this window and start again from the
application; if this keeps happening, tell whoever runs it.</p>`,
  });
}

/** Endpoints a browser navigates to: their errors are pages, everything else answers JSON. */
function isBrowserEndpoint(path: string): boolean {
  return path === ENDPOINTS.authorize || path.startsWith('/oauth/');
}

/**
 * Last handler of the authorization server's router: whatever escaped a handler (a malformed or
 * oversized body rejected by the parsers, a failing Redis) still answers in the endpoint's shape,
 * never Express's HTML page and never a stack trace.
 */
export function oauthErrorHandler(log: Logger): ErrorRequestHandler {
  return (err: unknown, req: Request, res: Response, next) => {
    if (res.headersSent) return next(err);
    // The body parsers (body-parser, through Express) reject with a typed 4xx error.
    const parser = err as { type?: unknown; status?: unknown };
    const rejectedBody =
      typeof parser.type === 'string' &&
      typeof parser.status === 'number' &&
      parser.status >= 400 &&
      parser.status < 500;
    if (isBrowserEndpoint(req.path)) {
      return sendErrorPage(
        res,
        rejectedBody ? new OAuthError(OAuthErrorCode.InvalidRequest, 'the request could not be read') : err,
        log,
        req.path,
      );
    }
    if (!rejectedBody) return sendOAuthError(res, err, log, req.path);
    // RFC 7591 §3.2.2: a registration body that cannot be read is invalid client metadata.
    const code = req.path === ENDPOINTS.register ? OAuthErrorCode.InvalidClientMetadata : OAuthErrorCode.InvalidRequest;
    const message = parser.status === 413 ? 'request body is too large' : 'request body could not be parsed';
    sendOAuthError(res, new OAuthError(code, message), log, req.path, false, parser.status as number);
  };
}
