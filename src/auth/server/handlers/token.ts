/**
 * POST /token (OAuth 2.1 §3.2): authorization_code and refresh_token grants.
 *
 * Why not the SDK's `tokenHandler`: its client authentication compares plaintext secrets (we store
 * hashes) and lacks client_secret_basic; and code-replay revocation needs the "already used"
 * decision before anything else, which its provider callbacks cannot express.
 */
import {
  InvalidGrantError,
  InvalidRequestError,
  InvalidScopeError,
  InvalidTargetError,
  UnauthorizedClientError,
  UnsupportedGrantTypeError,
} from '@modelcontextprotocol/sdk/server/auth/errors.js';
import type { RequestHandler } from 'express';
import { verifyChallenge } from 'pkce-challenge';
import { z } from 'zod';
import type { Logger } from '../../../observability/logger.js';
import type { AccessTokens, IssuedAccessToken } from '../accessTokens.js';
import { authenticateClient, presentedCredentials } from '../clientAuthentication.js';
import { sendOAuthError } from '../errors.js';
import { redirectUriMatches } from '../redirectUris.js';
import { matchResource } from '../resource.js';
import type { ClientStore, KnownClient } from '../stores/clients.js';
import type { Grant, GrantStore } from '../stores/grants.js';

const GrantTypeSchema = z.object({ grant_type: z.string({ message: 'grant_type is required' }) });

const AuthorizationCodeSchema = z.object({
  code: z.string({ message: 'code is required' }).min(1).max(512),
  // RFC 7636 §4.1: 43-128 characters from the unreserved set.
  code_verifier: z
    .string({ message: 'code_verifier is required (PKCE)' })
    .regex(/^[A-Za-z0-9._~-]{43,128}$/, 'code_verifier must be 43-128 unreserved characters (RFC 7636 §4.1)'),
  redirect_uri: z.string().max(2048).optional(),
  resource: z.string().max(2048).optional(),
});

const RefreshTokenSchema = z.object({
  refresh_token: z.string({ message: 'refresh_token is required' }).min(1).max(512),
  scope: z.string().max(2048).optional(),
  resource: z.string().max(2048).optional(),
});

export interface TokenDeps {
  resources: string[];
  clients: ClientStore;
  grants: GrantStore;
  tokens: AccessTokens;
  log: Logger;
}

function firstIssue(e: z.ZodError): string {
  return e.issues[0]?.message ?? 'invalid request';
}

function tokenResponse(access: IssuedAccessToken, refreshToken: string) {
  return {
    access_token: access.token,
    token_type: 'Bearer',
    expires_in: access.expiresIn,
    refresh_token: refreshToken,
    scope: access.scopes.join(' '),
  };
}

function requireGrantType(client: KnownClient, grantType: string): void {
  const allowed = client.info.grant_types ?? ['authorization_code'];
  if (!allowed.includes(grantType)) throw new UnauthorizedClientError(`client is not registered for the ${grantType} grant`);
}

export function tokenHandler(deps: TokenDeps): RequestHandler {
  async function authorizationCode(client: KnownClient, body: unknown) {
    const p = AuthorizationCodeSchema.safeParse(body);
    if (!p.success) throw new InvalidRequestError(firstIssue(p.error));
    const { code, code_verifier, redirect_uri, resource } = p.data;
    const redemption = await deps.grants.redeemCode(code);
    if (redemption.kind === 'unknown') throw new InvalidGrantError('authorization code is invalid or expired');
    if (redemption.kind === 'replayed') {
      // RFC 6749 §4.1.2 / OAuth 2.1 §4.1.3: a code used twice was probably stolen; revoke what the
      // first use produced.
      if (redemption.grantId) await deps.grants.revoke(redemption.grantId);
      deps.log.warn({ clientId: client.info.client_id }, 'authorization code replayed; grant revoked');
      throw new InvalidGrantError('authorization code was already used; tokens issued from it are revoked');
    }
    const r = redemption.record;
    if (r.clientId !== client.info.client_id) throw new InvalidGrantError('authorization code was issued to another client');
    // OAuth 2.1 §4.1.3 / RFC 6749 §4.1.3: the same redirect_uri as in the authorization request.
    if (r.redirectUriGiven && redirect_uri !== r.redirectUri) {
      throw new InvalidGrantError('redirect_uri does not match the authorization request');
    }
    if (!r.redirectUriGiven && redirect_uri !== undefined && !redirectUriMatches(redirect_uri, r.redirectUri)) {
      throw new InvalidGrantError('redirect_uri does not match the authorization request');
    }
    if (!(await verifyChallenge(code_verifier, r.codeChallenge))) {
      throw new InvalidGrantError('code_verifier does not match the code_challenge');
    }
    if (resource !== undefined && matchResource(resource, [r.resource]) === undefined) {
      throw new InvalidTargetError('resource differs from the one authorized');
    }
    const activated = await deps.grants.activate(r.grantId);
    if (!activated) throw new InvalidGrantError('the grant was revoked');
    const access = await deps.tokens.issue(activated.grant, activated.grant.scopes);
    deps.log.info({ clientId: r.clientId, userId: r.userId }, 'tokens issued (authorization_code)');
    return tokenResponse(access, activated.refreshToken);
  }

  async function refreshToken(client: KnownClient, body: unknown) {
    const p = RefreshTokenSchema.safeParse(body);
    if (!p.success) throw new InvalidRequestError(firstIssue(p.error));
    const requested = (p.data.scope ?? '').split(' ').filter((s) => s.length > 0);
    // Checked before rotation (inside it), so a refused request leaves the presented token current.
    const precheck = (grant: Grant) => {
      // RFC 6749 §6: a refresh may narrow the scope, never widen it.
      const extra = requested.filter((s) => !grant.scopes.includes(s));
      if (extra.length > 0) throw new InvalidScopeError(`scope exceeds the grant: ${extra.join(' ')}`);
      if (p.data.resource !== undefined && matchResource(p.data.resource, [grant.resource]) === undefined) {
        throw new InvalidTargetError('resource differs from the one authorized');
      }
    };
    const outcome = await deps.grants.rotateRefreshToken(p.data.refresh_token, client.info.client_id, precheck);
    switch (outcome.kind) {
      case 'unknown':
        throw new InvalidGrantError('refresh token is invalid, expired or revoked');
      case 'wrong-client':
        throw new InvalidGrantError('refresh token was issued to another client');
      case 'reused':
        deps.log.warn({ clientId: client.info.client_id }, 'rotated refresh token reused; grant revoked');
        throw new InvalidGrantError('refresh token was already used; the grant is revoked');
      case 'rotated':
        break;
    }
    const { grant } = outcome;
    const access = await deps.tokens.issue(grant, requested.length > 0 ? requested : grant.scopes);
    return tokenResponse(access, outcome.refreshToken);
  }

  return async (req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Pragma', 'no-cache');
    let basic = false;
    try {
      const creds = presentedCredentials(req);
      basic = creds.basic;
      const client = await authenticateClient(creds, deps.clients);
      const g = GrantTypeSchema.safeParse(req.body ?? {});
      if (!g.success) throw new InvalidRequestError(firstIssue(g.error));
      switch (g.data.grant_type) {
        case 'authorization_code':
          requireGrantType(client, 'authorization_code');
          res.json(await authorizationCode(client, req.body));
          return;
        case 'refresh_token':
          requireGrantType(client, 'refresh_token');
          res.json(await refreshToken(client, req.body));
          return;
        default:
          throw new UnsupportedGrantTypeError(`grant_type ${g.data.grant_type} is not supported`);
      }
    } catch (err) {
      sendOAuthError(res, err, deps.log, 'token', basic);
    }
  };
}
