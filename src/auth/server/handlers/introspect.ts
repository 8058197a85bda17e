/**
 * POST /introspect (RFC 7662), for resource servers that do not verify tokens themselves
 * (separate mode with TOKEN_VALIDATION=introspection). Callers authenticate as one of the
 * configured resource servers (§2.1: the endpoint MUST require authorization, or it becomes a
 * token-scanning oracle). Anything invalid, expired or revoked is just `{active:false}` (§2.2).
 */
import { InvalidClientError, InvalidRequestError, InvalidTokenError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import type { RequestHandler } from 'express';
import { z } from 'zod';
import type { Logger } from '../../../observability/logger.js';
import type { AccessTokens } from '../accessTokens.js';
import { presentedCredentials } from '../clientAuthentication.js';
import { sendOAuthError } from '../errors.js';
import type { IntrospectionClient } from '../options.js';
import { hashSecret, secretMatchesHash } from '../secrets.js';
import type { GrantStore } from '../stores/grants.js';

const IntrospectionRequestSchema = z.object({
  token: z.string({ message: 'token is required' }).min(1).max(4096),
  token_type_hint: z.string().optional(),
});

export interface IntrospectDeps {
  issuer: string;
  resources: string[];
  callers: IntrospectionClient[];
  grants: GrantStore;
  tokens: AccessTokens;
  log: Logger;
}

export function introspectHandler(deps: IntrospectDeps): RequestHandler {
  const callers = new Map(deps.callers.map((c) => [c.clientId, hashSecret(c.clientSecret)]));

  async function describe(token: string): Promise<Record<string, unknown>> {
    if (token.includes('.')) {
      try {
        const c = await deps.tokens.verify(token, deps.resources);
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
        if (err instanceof InvalidTokenError) return { active: false };
        throw err;
      }
    }
    const g = await deps.grants.grantOfRefreshToken(token);
    if (!g) return { active: false };
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

  return async (req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    let basic = false;
    try {
      const creds = presentedCredentials(req);
      basic = creds.basic;
      const expected = callers.get(creds.clientId);
      if (expected === undefined || creds.clientSecret === undefined || !secretMatchesHash(creds.clientSecret, expected)) {
        throw new InvalidClientError('introspection is limited to authenticated resource servers');
      }
      const p = IntrospectionRequestSchema.safeParse(req.body ?? {});
      if (!p.success) throw new InvalidRequestError(p.error.issues[0]?.message ?? 'invalid introspection request');
      res.json(await describe(p.data.token));
    } catch (err) {
      sendOAuthError(res, err, deps.log, 'introspect', basic);
    }
  };
}
