/**
 * The fake upstream identity provider: GET /oauth/login shows a form where the tester picks a
 * recent user id or types a new one; POST records the choice in the flow and continues to consent.
 * There is no password: this server exists to exercise the OAuth flow, and the user id it yields
 * is what owns MCP sessions. A real deployment puts a real IdP here (docs/oauth.md).
 */
import type { Redis } from 'ioredis';
import type { RequestHandler } from 'express';
import { z } from 'zod';
import type { Logger } from '../../../observability/logger.js';
import { OAuthError, OAuthErrorCode } from '../../oauthError.js';
import type { Keyspace } from '../../../redis/keys.js';
import { sendErrorPage } from '../errors.js';
import { ENDPOINTS } from '../metadata.js';
import { html, sendPage } from '../pages/html.js';
import type { FlowStore } from '../stores/flows.js';
import { flowFromRequest } from './interactionFlow.js';

export const UserIdSchema = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9._@+-]{1,64}$/, 'user id: 1-64 characters from A-Z a-z 0-9 . _ @ + -');

const RECENT_USERS_SHOWN = 10;

export interface LoginDeps {
  redis: Redis;
  keys: Keyspace;
  flows: FlowStore;
  serviceName: string;
  /** How long the recent-users list is remembered. */
  recentUsersSeconds: number;
  log: Logger;
}

export function loginPageHandler(deps: LoginDeps): RequestHandler {
  const recentKey = deps.keys.oauth('users', 'recent');
  return async (req, res) => {
    try {
      const { flowId, flow } = await flowFromRequest(req, deps.flows);
      const recent = await deps.redis.zrevrange(recentKey, 0, RECENT_USERS_SHOWN - 1);
      const picks = recent.map((u) => html`<li><button type="submit" name="pick" value="${u}">${u}</button></li>`);
      sendPage(res, {
        title: `Sign in · ${deps.serviceName}`,
        body: html`<h1>Sign in to ${deps.serviceName}</h1>
<p>Test identity provider: choose who you are. No password; the user id becomes the owner of your MCP sessions.</p>
<form method="post" action="${ENDPOINTS.login}">
<input type="hidden" name="flow" value="${flowId}">
<input type="hidden" name="csrf" value="${flow.csrf}">
${recent.length > 0 ? html`<p>Recent users:</p><ul class="users">${picks}</ul>` : ''}
<label for="user_id">User id</label>
<input type="text" id="user_id" name="user_id" autocomplete="username" maxlength="64" placeholder="e.g. alice">
<button type="submit">Continue</button>
</form>`,
      });
    } catch (err) {
      sendErrorPage(res, err, deps.log, 'login');
    }
  };
}

export function loginSubmitHandler(deps: LoginDeps): RequestHandler {
  const recentKey = deps.keys.oauth('users', 'recent');
  return async (req, res) => {
    try {
      const { flowId, flow } = await flowFromRequest(req, deps.flows);
      const body = req.body as Record<string, unknown>;
      const chosen = typeof body['pick'] === 'string' && body['pick'] !== '' ? body['pick'] : body['user_id'];
      const userId = UserIdSchema.safeParse(chosen);
      if (!userId.success)
        throw new OAuthError(OAuthErrorCode.InvalidRequest, userId.error.issues[0]?.message ?? 'invalid user id');
      if (!(await deps.flows.setUser(flowId, flow, userId.data)))
        throw new OAuthError(OAuthErrorCode.InvalidRequest, 'this authorization request has expired');
      await deps.redis
        .multi()
        .zadd(recentKey, Date.now(), userId.data)
        .zremrangebyrank(recentKey, 0, -51)
        .expire(recentKey, deps.recentUsersSeconds)
        .exec();
      res.redirect(303, `${ENDPOINTS.consent}?flow=${encodeURIComponent(flowId)}`);
    } catch (err) {
      sendErrorPage(res, err, deps.log, 'login');
    }
  };
}
