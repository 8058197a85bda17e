/**
 * POST /token (OAuth 2.1 §3.2): authorization_code and refresh_token grants.
 *
 * Why not an SDK handler: SDK v2 has none (only the frozen `server-legacy` package), and 1.x's
 * compared plaintext secrets (we store hashes), lacked client_secret_basic, and could not order
 * the code checks as below.
 *
 * Order of the code checks (security review finding 5): client, redirect URI, PKCE and resource
 * first, and only then is the code spent, atomically. Whoever merely learned a code (from a log, a
 * Referer) cannot burn it or revoke the grant; a second redemption by the party that passes every
 * check is a genuine replay and revokes what the first one produced (RFC 6749 §4.1.2).
 */
import type { RequestHandler } from 'express';
import { verifyChallenge } from 'pkce-challenge';
import { z } from 'zod';
import type { Logger } from '../../../observability/logger.js';
import type { AccessTokens, IssuedAccessToken } from '../accessTokens.js';
import { OAuthError, OAuthErrorCode } from '../../oauthError.js';
import { authenticateClient, clientAuthenticatedHandler } from '../clientAuthentication.js';
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

const invalidGrant = (message: string) => new OAuthError(OAuthErrorCode.InvalidGrant, message);
const invalidRequest = (message: string) => new OAuthError(OAuthErrorCode.InvalidRequest, message);
const invalidTarget = (message: string) => new OAuthError(OAuthErrorCode.InvalidTarget, message);

function tokenResponse(access: IssuedAccessToken, refreshToken: string | undefined) {
  return {
    access_token: access.token,
    token_type: 'Bearer',
    expires_in: access.expiresIn,
    ...(refreshToken !== undefined ? { refresh_token: refreshToken } : {}),
    scope: access.scopes.join(' '),
  };
}

function registeredFor(client: KnownClient, grantType: string): boolean {
  return (client.info.grant_types as readonly string[]).includes(grantType);
}

function requireGrantType(client: KnownClient, grantType: string): void {
  if (!registeredFor(client, grantType)) {
    throw new OAuthError(OAuthErrorCode.UnauthorizedClient, `client is not registered for the ${grantType} grant`);
  }
}

export function tokenHandler(deps: TokenDeps): RequestHandler {
  async function authorizationCode(client: KnownClient, body: unknown) {
    const p = AuthorizationCodeSchema.safeParse(body);
    if (!p.success) throw invalidRequest(firstIssue(p.error));
    const { code, code_verifier, redirect_uri, resource } = p.data;
    const r = await deps.grants.codeRecord(code);
    if (!r) throw invalidGrant('authorization code is invalid or expired');
    // Bindings first: a failure here leaves the code and its grant untouched.
    if (r.clientId !== client.info.client_id) throw invalidGrant('authorization code was issued to another client');
    // OAuth 2.1 §4.1.3 / RFC 6749 §4.1.3: the same redirect_uri as in the authorization request.
    if (r.redirectUriGiven && redirect_uri !== r.redirectUri)
      throw invalidGrant('redirect_uri does not match the authorization request');
    if (!r.redirectUriGiven && redirect_uri !== undefined && !redirectUriMatches(redirect_uri, r.redirectUri)) {
      throw invalidGrant('redirect_uri does not match the authorization request');
    }
    if (!(await verifyChallenge(code_verifier, r.codeChallenge)))
      throw invalidGrant('code_verifier does not match the code_challenge');
    if (resource !== undefined && matchResource(resource, [r.resource]) === undefined) {
      throw invalidTarget('resource differs from the one authorized');
    }
    if ((await deps.grants.spendCode(code)) === 'replayed') {
      // RFC 6749 §4.1.2 / OAuth 2.1 §4.1.3: a code used twice was probably stolen; revoke what the
      // first use produced.
      await deps.grants.revoke(r.grantId);
      deps.log.warn({ clientId: client.info.client_id }, 'authorization code replayed; grant revoked');
      throw invalidGrant('authorization code was already used; tokens issued from it are revoked');
    }
    // Refresh tokens only for clients registered for that grant (RFC 7591 §2, `grant_types`).
    const activated = await deps.grants.activate(r.grantId, {
      refresh: registeredFor(client, 'refresh_token'),
      accessTokenUntil: deps.tokens.now() + deps.tokens.lifetimeSeconds * 1000,
    });
    if (!activated) throw invalidGrant('the grant was revoked');
    const access = await deps.tokens.issue(activated.grant, activated.grant.scopes);
    deps.log.info({ clientId: r.clientId, userId: r.userId }, 'tokens issued (authorization_code)');
    return tokenResponse(access, activated.refreshToken);
  }

  async function refreshToken(client: KnownClient, body: unknown) {
    const p = RefreshTokenSchema.safeParse(body);
    if (!p.success) throw invalidRequest(firstIssue(p.error));
    const requested = (p.data.scope ?? '').split(' ').filter((s) => s.length > 0);
    // Checked before rotation (inside it), so a refused request leaves the presented token current.
    const precheck = (grant: Grant) => {
      // RFC 6749 §6: a refresh may narrow the scope, never widen it.
      const extra = requested.filter((s) => !grant.scopes.includes(s));
      if (extra.length > 0)
        throw new OAuthError(OAuthErrorCode.InvalidScope, `scope exceeds the grant: ${extra.join(' ')}`);
      if (p.data.resource !== undefined && matchResource(p.data.resource, [grant.resource]) === undefined) {
        throw invalidTarget('resource differs from the one authorized');
      }
    };
    const outcome = await deps.grants.rotateRefreshToken(p.data.refresh_token, client.info.client_id, precheck);
    switch (outcome.kind) {
      case 'unknown':
        throw invalidGrant('refresh token is invalid, expired or revoked');
      case 'wrong-client':
        throw invalidGrant('refresh token was issued to another client');
      case 'reused':
        deps.log.warn({ clientId: client.info.client_id }, 'rotated refresh token reused; grant revoked');
        throw invalidGrant('refresh token was already used; the grant is revoked');
      case 'rotated':
        break;
    }
    const { grant } = outcome;
    const access = await deps.tokens.issue(grant, requested.length > 0 ? requested : grant.scopes);
    return tokenResponse(access, outcome.refreshToken);
  }

  const handler = clientAuthenticatedHandler(
    'token',
    deps.log,
    (creds) => authenticateClient(creds, deps.clients),
    async (client, req, res) => {
      const g = GrantTypeSchema.safeParse(req.body ?? {});
      if (!g.success) throw invalidRequest(firstIssue(g.error));
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
          throw new OAuthError(OAuthErrorCode.UnsupportedGrantType, `grant_type ${g.data.grant_type} is not supported`);
      }
    },
  );
  // RFC 6749 §5.1: token responses also carry Pragma for HTTP/1.0 caches.
  return (req, res, next) => {
    res.setHeader('Pragma', 'no-cache');
    return handler(req, res, next);
  };
}
