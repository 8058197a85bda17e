/**
 * POST /introspect (RFC 7662), for resource servers that do not verify tokens themselves
 * (separate mode with TOKEN_VALIDATION=introspection). Callers authenticate as one of the
 * configured resource servers (§2.1: the endpoint MUST require authorization, or it becomes a
 * token-scanning oracle). Anything invalid, expired or revoked is just `{active:false}` (§2.2).
 *
 * A caller learns only about tokens issued for its own resource(s) (RFC 7662 §4: the AS should
 * tell a protected resource only what it needs; security review finding 8): a token for another
 * resource is `{active:false}` to it, so one resource server cannot probe another's tokens.
 */
import type { RequestHandler } from 'express';
import { z } from 'zod';
import type { Logger } from '../../../observability/logger.js';
import { OAuthError, OAuthErrorCode, isOAuthError } from '../../oauthError.js';
import type { AccessTokens } from '../accessTokens.js';
import { clientAuthenticatedHandler } from '../clientAuthentication.js';
import type { IntrospectionClient } from '../options.js';
import { hashSecret, secretMatchesHash } from '../secrets.js';
import type { GrantStore } from '../stores/grants.js';

const IntrospectionRequestSchema = z.object({
  token: z.string({ message: 'token is required' }).min(1).max(4096),
  token_type_hint: z.string().optional(),
});

export interface IntrospectDeps {
  issuer: string;
  callers: IntrospectionClient[];
  grants: GrantStore;
  tokens: AccessTokens;
  log: Logger;
}

export function introspectHandler(deps: IntrospectDeps): RequestHandler {
  const callers = new Map(
    deps.callers.map((c) => [c.clientId, { secretHash: hashSecret(c.clientSecret), resources: c.resources }]),
  );

  async function describe(token: string, resources: readonly string[]): Promise<Record<string, unknown>> {
    if (token.includes('.')) {
      try {
        const c = await deps.tokens.verify(token, resources);
        if (!(await deps.grants.isLive(c.gid))) return { active: false };
        return {
          active: true,
          token_type: 'Bearer',
          scope: c.scope,
          client_id: c.client_id,
          sub: c.sub,
          aud: c.aud,
          iss: c.iss,
          exp: c.exp,
          iat: c.iat,
          jti: c.jti,
        };
      } catch (err) {
        if (isOAuthError(err, OAuthErrorCode.InvalidToken)) return { active: false };
        throw err;
      }
    }
    const g = await deps.grants.grantOfRefreshToken(token);
    if (!g || !resources.includes(g.resource)) return { active: false };
    return {
      active: true,
      token_type: 'refresh_token',
      scope: g.scopes.join(' '),
      client_id: g.clientId,
      sub: g.userId,
      aud: g.resource,
      iss: deps.issuer,
      exp: Math.floor(g.expiresAt / 1000),
    };
  }

  return clientAuthenticatedHandler(
    'introspect',
    deps.log,
    (creds) => {
      const caller = callers.get(creds.clientId);
      if (
        caller === undefined ||
        creds.clientSecret === undefined ||
        !secretMatchesHash(creds.clientSecret, caller.secretHash)
      ) {
        throw new OAuthError(
          OAuthErrorCode.InvalidClient,
          'introspection is limited to authenticated resource servers',
        );
      }
      return caller;
    },
    async (caller, req, res) => {
      const p = IntrospectionRequestSchema.safeParse(req.body ?? {});
      if (!p.success)
        throw new OAuthError(
          OAuthErrorCode.InvalidRequest,
          p.error.issues[0]?.message ?? 'invalid introspection request',
        );
      res.json(await describe(p.data.token, caller.resources));
    },
  );
}
