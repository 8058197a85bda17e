/**
 * The one place where authorization-server errors become HTTP responses: RFC 6749 §5.2 JSON for
 * API endpoints, an HTML page for the browser-facing ones. Handlers throw the SDK's `OAuthError`
 * subclasses; anything else is a bug or an outage, logged (without request data) and answered 500.
 */
import {
  InvalidClientError,
  OAuthError,
  ServerError,
  TemporarilyUnavailableError,
  TooManyRequestsError,
} from '@modelcontextprotocol/sdk/server/auth/errors.js';
import type { Response } from 'express';
import type { Logger } from '../../observability/logger.js';
import { html, sendPage } from './pages/html.js';

function statusOf(err: OAuthError): number {
  if (err instanceof ServerError) return 500;
  if (err instanceof TemporarilyUnavailableError) return 503;
  if (err instanceof TooManyRequestsError) return 429;
  // RFC 6749 §5.2 allows 401 for invalid_client and requires it when the client used the
  // Authorization header; answering 401 always keeps one shape for both methods.
  if (err instanceof InvalidClientError) return 401;
  return 400;
}

function asOAuthError(err: unknown, log: Logger, where: string): OAuthError {
  if (err instanceof OAuthError) return err;
  log.error({ err: err instanceof Error ? { name: err.name, message: err.message } : String(err), where }, 'authorization server error');
  return new ServerError('Internal Server Error');
}

export function sendOAuthError(res: Response, err: unknown, log: Logger, where: string, basicAuthUsed = false): void {
  const e = asOAuthError(err, log, where);
  if (e instanceof InvalidClientError && basicAuthUsed) {
    res.setHeader('WWW-Authenticate', 'Basic realm="oauth", charset="UTF-8"');
  }
  res.setHeader('Cache-Control', 'no-store');
  res.status(statusOf(e)).json(e.toResponseObject());
}

/**
 * Errors about the client or the redirect URI must not be sent to that redirect URI (RFC 6749
 * §4.1.2.1: it could be an open redirector); the user agent sees this page instead.
 */
export function sendErrorPage(res: Response, err: unknown, log: Logger, where: string): void {
  const e = asOAuthError(err, log, where);
  sendPage(res, {
    status: statusOf(e),
    title: 'Authorization error',
    body: html`<h1>Authorization error</h1>
<p class="error"><code>${e.errorCode}</code>: ${e.message}</p>
<p>The application that sent you here is misconfigured or not registered with this server, so you
are not being sent back to it.</p>`,
  });
}
