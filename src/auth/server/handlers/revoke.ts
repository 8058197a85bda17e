/**
 * POST /revoke (RFC 7009). Revoking either kind of token revokes its whole grant: for a refresh
 * token RFC 7009 §2.1 says the AS SHOULD also invalidate the access tokens of the same grant, and
 * for an access token it MAY revoke the refresh token too. Doing both keeps the resource-server
 * check to one key (the grant) instead of a per-token deny-list.
 *
 * Unknown, expired or foreign tokens get the same 200 (§2.2): the answer reveals nothing.
 * The SDK's `revocationHandler` is not used for the client-authentication reasons given in
 * clientAuthentication.ts.
 */
import type { RequestHandler } from 'express';
import { z } from 'zod';
import type { Logger } from '../../../observability/logger.js';
import { OAuthError, OAuthErrorCode, isOAuthError } from '../../oauthError.js';
import type { AccessTokens } from '../accessTokens.js';
import { authenticateClient, clientAuthenticatedHandler } from '../clientAuthentication.js';
import type { ClientStore } from '../stores/clients.js';
import type { GrantStore } from '../stores/grants.js';

const RevocationRequestSchema = z.object({
  token: z.string({ message: 'token is required' }).min(1).max(4096),
  token_type_hint: z.string().optional(),
});

export interface RevokeDeps {
  resources: string[];
  clients: ClientStore;
  grants: GrantStore;
  tokens: AccessTokens;
  log: Logger;
}

/** The grant a token belongs to, if it is one of ours and was issued to `clientId`. */
export async function grantIdOfToken(
  token: string,
  clientId: string | undefined,
  deps: Pick<RevokeDeps, 'grants' | 'tokens' | 'resources'>,
): Promise<string | undefined> {
  if (token.includes('.')) {
    try {
      const claims = await deps.tokens.verify(token, deps.resources, { ignoreExpiry: true });
      return clientId === undefined || claims.client_id === clientId ? claims.gid : undefined;
    } catch (err) {
      if (isOAuthError(err, OAuthErrorCode.InvalidToken)) return undefined;
      throw err;
    }
  }
  const grant = await deps.grants.grantOfRefreshToken(token);
  return grant && (clientId === undefined || grant.clientId === clientId) ? grant.id : undefined;
}

export function revokeHandler(deps: RevokeDeps): RequestHandler {
  return clientAuthenticatedHandler(
    'revoke',
    deps.log,
    (creds) => authenticateClient(creds, deps.clients),
    async (client, req, res) => {
      const p = RevocationRequestSchema.safeParse(req.body ?? {});
      if (!p.success)
        throw new OAuthError(OAuthErrorCode.InvalidRequest, p.error.issues[0]?.message ?? 'invalid revocation request');
      const gid = await grantIdOfToken(p.data.token, client.info.client_id, deps);
      if (gid !== undefined) {
        await deps.grants.revoke(gid);
        deps.log.info({ clientId: client.info.client_id }, 'grant revoked by client');
      }
      res.status(200).json({});
    },
  );
}
