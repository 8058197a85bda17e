/**
 * Sign-in through the upstream OpenID provider (LOGIN_PROVIDER=oidc), the login step of a flow:
 *
 *   GET /oauth/login?flow=…     → 302 to the provider (authorization code + PKCE + state + nonce)
 *   GET /oauth/callback?code&state[&iss]  (any instance) → the user is set on the flow → 303 consent
 *
 * The callback must come back to the browser that started the flow: it has to carry the flow's
 * SameSite cookie, so a victim cannot be made to finish an attacker's sign-in (login CSRF; OAuth
 * 2.1 §7.7.1). Errors are pages (nobody is signed in yet, RFC 9700 §4.11.2), never a 500.
 */
import type { Request, RequestHandler } from 'express';
import { z } from 'zod';
import type { Logger } from '../../../observability/logger.js';
import { OAuthError, OAuthErrorCode } from '../../oauthError.js';
import { UpstreamLoginError, sendErrorPage } from '../errors.js';
import type { OidcUpstream } from '../login/oidcUpstream.js';
import { upstreamIdentity } from '../login/upstreamIdentity.js';
import type { UpstreamSignIns } from '../login/upstreamSignIns.js';
import { ENDPOINTS } from '../metadata.js';
import type { FlowStore } from '../stores/flows.js';
import { flowFromRequest, flowCookieMatches } from './interactionFlow.js';

export interface UpstreamLoginDeps {
  upstream: OidcUpstream;
  signIns: UpstreamSignIns;
  flows: FlowStore;
  userClaim: string;
  allowedDomains?: string[];
  log: Logger;
}

const CallbackSchema = z.object({ state: z.string().min(1).max(512) });

const expired = () =>
  new OAuthError(
    OAuthErrorCode.InvalidRequest,
    'this sign-in response is unknown, expired or was already used; start again from the application',
  );

export function upstreamLoginHandler(deps: UpstreamLoginDeps): RequestHandler {
  return async (req, res) => {
    try {
      const { flowId } = await flowFromRequest(req, deps.flows);
      const signIn = await deps.signIns.start(flowId);
      const url = await deps.upstream.authorizationUrl(signIn);
      res.setHeader('Cache-Control', 'no-store');
      res.redirect(302, url.href);
    } catch (err) {
      sendErrorPage(res, err, deps.log, 'login');
    }
  };
}

export function upstreamCallbackHandler(deps: UpstreamLoginDeps): RequestHandler {
  return async (req: Request, res) => {
    res.setHeader('Cache-Control', 'no-store');
    try {
      const q = CallbackSchema.safeParse(req.query);
      if (!q.success) throw expired();
      // Single use: a replayed or forged callback finds nothing.
      const signIn = await deps.signIns.take(q.data.state);
      if (!signIn) throw expired();
      const flow = await deps.flows.get(signIn.flowId);
      if (!flow) throw expired();
      if (!flowCookieMatches(req, signIn.flowId, flow)) {
        throw new UpstreamLoginError(
          'invalid_request',
          'this sign-in was started in another browser; start again from the application',
          400,
        );
      }
      // Our redirect URI with the provider's query, whatever host the request reached us on.
      const current = new URL(deps.upstream.redirectUri);
      current.search = new URL(req.originalUrl, 'http://x').search;
      const wanted = [deps.userClaim, ...(deps.allowedDomains ? ['email', 'email_verified'] : [])];
      const claims = await deps.upstream.signIn(current, { ...signIn, state: q.data.state }, wanted);
      // `iss` was verified against the discovered issuer: it namespaces the user id.
      const who = upstreamIdentity(claims, {
        issuer: String(claims.iss),
        userClaim: deps.userClaim,
        allowedDomains: deps.allowedDomains,
      });
      if (!(await deps.flows.setUser(signIn.flowId, flow, who.userId, who.label))) throw expired();
      deps.log.info({ userId: who.userId, clientId: flow.clientId }, 'upstream sign-in succeeded');
      res.redirect(303, `${ENDPOINTS.consent}?flow=${encodeURIComponent(signIn.flowId)}`);
    } catch (err) {
      if (err instanceof UpstreamLoginError && err.status === 403)
        deps.log.info({ reason: err.message }, 'upstream sign-in refused by policy');
      sendErrorPage(res, err, deps.log, 'callback');
    }
  };
}
