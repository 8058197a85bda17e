/**
 * GET/POST /authorize (OAuth 2.1 §4.1.1): validates the request and starts a pending flow that the
 * login and consent pages finish.
 *
 * Why not an SDK handler: SDK v2 has none (only the frozen `server-legacy` package), and 1.x's
 * redirected errors without `iss` (RFC 9207) and answered client errors with bare JSON.
 *
 * Every error here is shown on our own page, never redirected to the client:
 * - about the client or the redirect URI, because the redirect URI is not trusted yet (RFC 6749
 *   §4.1.2.1);
 * - everything else too, because nobody has signed in yet and every client of this server is
 *   dynamically registered or a metadata document, i.e. created by anyone at no cost. Redirecting
 *   such a client's errors before authentication makes the server an open redirector (RFC 9700
 *   §4.11.2; security review finding 1). Errors after sign-in (the user denies consent) do go back
 *   to the client, with `state` and `iss` (consent.ts).
 */
import type { Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import type { Logger } from '../../../observability/logger.js';
import { OAuthError, OAuthErrorCode } from '../../oauthError.js';
import { sendErrorPage } from '../errors.js';
import { ENDPOINTS } from '../metadata.js';
import { findMatchingRedirectUri } from '../redirectUris.js';
import { matchResource } from '../resource.js';
import type { ClientStore } from '../stores/clients.js';
import { FlowStore } from '../stores/flows.js';

const invalidRequest = (message: string) => new OAuthError(OAuthErrorCode.InvalidRequest, message);

const single = z.string().max(2048);

const ClientParamsSchema = z.object({
  client_id: z.string({ message: 'client_id is required' }).min(1).max(2048),
  redirect_uri: single.optional(),
});

// RFC 7636 §4.2: an S256 challenge is BASE64URL(SHA-256(verifier)), 43 characters.
const RequestParamsSchema = z.object({
  response_type: z.string({ message: 'response_type is required' }),
  code_challenge: z.string({ message: 'code_challenge is required (PKCE, OAuth 2.1 §4.1.1)' }),
  code_challenge_method: z.string({ message: 'code_challenge_method is required; only S256 is supported' }),
  scope: single.optional(),
  state: z.string().max(1024, 'state is too long').optional(),
  resource: z.union([single, z.array(single)]).optional(),
});

export interface AuthorizeDeps {
  resources: string[];
  scopes: string[];
  clients: ClientStore;
  flows: FlowStore;
  flowSeconds: number;
  secureCookies: boolean;
  log: Logger;
}

function paramsOf(req: Request): Record<string, unknown> {
  return (req.method === 'POST' ? req.body : req.query) as Record<string, unknown>;
}

export function authorizeHandler(deps: AuthorizeDeps): RequestHandler {
  return async (req: Request, res: Response) => {
    res.setHeader('Cache-Control', 'no-store');
    const params = paramsOf(req) ?? {};

    try {
      const c = ClientParamsSchema.safeParse(params);
      if (!c.success) throw invalidRequest(c.error.issues[0]?.message ?? 'invalid client_id or redirect_uri');
      const clientId = c.data.client_id;
      const client = await deps.clients.get(clientId);
      if (!client)
        throw new OAuthError(
          OAuthErrorCode.InvalidClient,
          'unknown client_id (register first, or use a client metadata document URL)',
        );
      const registered = client.info.redirect_uris;
      let redirectUri: string;
      let redirectUriGiven: boolean;
      if (c.data.redirect_uri !== undefined) {
        if (!findMatchingRedirectUri(c.data.redirect_uri, registered))
          throw invalidRequest('redirect_uri does not match any registered redirect URI');
        redirectUri = c.data.redirect_uri;
        redirectUriGiven = true;
      } else if (registered.length === 1) {
        redirectUri = registered[0]!;
        redirectUriGiven = false;
      } else {
        throw invalidRequest('redirect_uri is required when the client registered several');
      }

      const p = RequestParamsSchema.safeParse(params);
      if (!p.success) throw invalidRequest(p.error.issues[0]?.message ?? 'invalid authorization request');
      const q = p.data;
      if (q.response_type !== 'code')
        throw new OAuthError(OAuthErrorCode.UnsupportedResponseType, 'only response_type=code is supported');
      if (!client.info.grant_types.includes('authorization_code')) {
        throw new OAuthError(
          OAuthErrorCode.UnauthorizedClient,
          'client is not registered for the authorization_code grant',
        );
      }
      // OAuth 2.1 §4.1.1 / RFC 7636 §4.3: `plain` is not accepted.
      if (q.code_challenge_method !== 'S256') throw invalidRequest('code_challenge_method must be S256');
      if (!/^[A-Za-z0-9_-]{43}$/.test(q.code_challenge)) {
        throw invalidRequest('code_challenge must be a base64url SHA-256 value (43 characters)');
      }
      const requested = (q.scope ?? '').split(' ').filter((s) => s.length > 0);
      const unknown = requested.filter((s) => !deps.scopes.includes(s));
      if (unknown.length > 0)
        throw new OAuthError(OAuthErrorCode.InvalidScope, `unsupported scope: ${unknown.join(' ')}`);
      const scopes = requested.length > 0 ? [...new Set(requested)] : deps.scopes;
      // RFC 8707 §2: the resource must be one this server issues tokens for; MCP clients always send
      // it. Without one, the default resource is assumed (pre-RFC 8707 clients).
      if (Array.isArray(q.resource))
        throw new OAuthError(OAuthErrorCode.InvalidTarget, 'request tokens for one resource at a time');
      const resource = q.resource === undefined ? deps.resources[0]! : matchResource(q.resource, deps.resources);
      if (resource === undefined)
        throw new OAuthError(OAuthErrorCode.InvalidTarget, 'resource is not served by this authorization server');

      const { flowId, flow } = await deps.flows.create({
        clientId,
        redirectUri,
        redirectUriGiven,
        state: q.state,
        codeChallenge: q.code_challenge,
        scopes,
        resource,
      });
      res.cookie(FlowStore.cookieName(flowId), flow.csrf, {
        httpOnly: true,
        sameSite: 'lax',
        secure: deps.secureCookies,
        path: '/oauth',
        maxAge: deps.flowSeconds * 1000,
      });
      res.redirect(302, `${ENDPOINTS.login}?flow=${encodeURIComponent(flowId)}`);
    } catch (err) {
      if (err instanceof OAuthError) deps.log.info({ error: err.code }, 'authorization request refused');
      sendErrorPage(res, err, deps.log, 'authorize');
    }
  };
}
