/**
 * GET /oauth/consent names the client, where it will send the user back (the redirect host; MCP
 * authorization, CIMD section: MUST be shown), the scopes and the resource. POST answers it:
 * approve → a code; deny → access_denied. Either way the flow is consumed and the browser is
 * sent to the client's redirect URI with `state` and `iss`.
 */
import type { RequestHandler } from 'express';
import type { Logger } from '../../../observability/logger.js';
import { OAuthError, OAuthErrorCode } from '../../oauthError.js';
import { sendErrorPage } from '../errors.js';
import { ENDPOINTS } from '../metadata.js';
import { html, sendPage } from '../pages/html.js';
import { isLoopbackUrl } from '../redirectUris.js';
import type { ClientStore } from '../stores/clients.js';
import { FlowStore } from '../stores/flows.js';
import type { GrantStore } from '../stores/grants.js';
import { authorizationRedirect } from './authorizationResponse.js';
import { flowFromRequest } from './interactionFlow.js';

const invalidRequest = (message: string) => new OAuthError(OAuthErrorCode.InvalidRequest, message);

export interface ConsentDeps {
  issuer: string;
  serviceName: string;
  clients: ClientStore;
  flows: FlowStore;
  grants: GrantStore;
  secureCookies: boolean;
  log: Logger;
}

export function consentPageHandler(deps: ConsentDeps): RequestHandler {
  return async (req, res) => {
    try {
      const { flowId, flow } = await flowFromRequest(req, deps.flows);
      if (!flow.userId) throw invalidRequest('sign in first');
      const client = await deps.clients.get(flow.clientId);
      if (!client) throw invalidRequest('the client registration has expired; start again from the application');
      const redirect = new URL(flow.redirectUri);
      const loopbackOnly = client.info.redirect_uris.every((u) => isLoopbackUrl(new URL(u)));
      sendPage(res, {
        title: `Authorize ${client.info.client_name ?? 'application'}`,
        body: html`<h1>Authorize access</h1>
<p>Signed in as <code>${flow.userLabel ?? flow.userId}</code>.</p>
<p><strong>${client.info.client_name ?? 'An unnamed application'}</strong> wants to access ${deps.serviceName} on your behalf.</p>
<dl>
<dt>Client id</dt><dd><code>${client.info.client_id}</code>${client.metadataDocument ? ' (client metadata document)' : ''}</dd>
<dt>You will be sent back to</dt><dd><code>${redirect.host}</code> (<code>${flow.redirectUri}</code>)</dd>
<dt>Permissions (scopes)</dt><dd>${flow.scopes.map((s, i) => html`${i > 0 ? ', ' : ''}<code>${s}</code>`)}</dd>
<dt>Resource</dt><dd><code>${flow.resource}</code></dd>
</dl>
${
  client.metadataDocument && loopbackOnly
    ? html`<p class="warn">This application only uses local (localhost) redirect addresses. Any program on this computer
could receive the authorization; approve only if you started this sign-in yourself.</p>`
    : ''
}
<form method="post" action="${ENDPOINTS.consent}">
<input type="hidden" name="flow" value="${flowId}">
<input type="hidden" name="csrf" value="${flow.csrf}">
<button type="submit" name="decision" value="approve">Approve</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form>`,
        // The POST is answered with a 303 to the client's redirect URI.
        formActionOrigins: [redirect.origin],
      });
    } catch (err) {
      sendErrorPage(res, err, deps.log, 'consent');
    }
  };
}

export function consentSubmitHandler(deps: ConsentDeps): RequestHandler {
  return async (req, res) => {
    try {
      const { flowId, flow: seen } = await flowFromRequest(req, deps.flows);
      if (!seen.userId) throw invalidRequest('sign in first');
      const decision = (req.body as Record<string, unknown>)['decision'];
      if (decision !== 'approve' && decision !== 'deny') throw invalidRequest('decision must be approve or deny');
      // Consume the flow: a second submission (or a race between two) finds nothing.
      const flow = await deps.flows.take(flowId);
      if (!flow || !flow.userId) throw invalidRequest('this authorization request was already answered');
      res.clearCookie(FlowStore.cookieName(flowId), {
        path: '/oauth',
        httpOnly: true,
        sameSite: 'lax',
        secure: deps.secureCookies,
      });
      if (decision === 'deny') {
        deps.log.info({ clientId: flow.clientId }, 'authorization denied by user');
        res.redirect(
          303,
          authorizationRedirect(flow.redirectUri, {
            error: new OAuthError(OAuthErrorCode.AccessDenied, 'the user denied the request'),
            state: flow.state,
            issuer: deps.issuer,
          }),
        );
        return;
      }
      const code = await deps.grants.createCode({
        clientId: flow.clientId,
        userId: flow.userId,
        redirectUri: flow.redirectUri,
        redirectUriGiven: flow.redirectUriGiven,
        codeChallenge: flow.codeChallenge,
        scopes: flow.scopes,
        resource: flow.resource,
      });
      deps.log.info({ clientId: flow.clientId, userId: flow.userId, scopes: flow.scopes }, 'authorization granted');
      res.redirect(303, authorizationRedirect(flow.redirectUri, { code, state: flow.state, issuer: deps.issuer }));
    } catch (err) {
      sendErrorPage(res, err, deps.log, 'consent');
    }
  };
}
