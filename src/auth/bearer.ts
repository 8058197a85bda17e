/**
 * Bearer authentication for /mcp on top of the SDK's `requireBearerAuth`: RFC 6750 challenges with
 * `resource_metadata` (RFC 9728) on every 401, 403 `insufficient_scope` for missing scopes.
 */
import { requireBearerAuth } from '@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js';
import type { RequestHandler } from 'express';
import type { OAuthTokenVerifier } from './types.js';
import { userIdOf } from './types.js';

export interface BearerOptions {
  verifier: OAuthTokenVerifier;
  /** URL of this resource's Protected Resource Metadata document. */
  resourceMetadataUrl?: string;
  requiredScopes?: string[];
}

export function bearerAuth(opts: BearerOptions): RequestHandler {
  const sdk = requireBearerAuth({
    verifier: opts.verifier,
    requiredScopes: opts.requiredScopes ?? [],
    resourceMetadataUrl: opts.resourceMetadataUrl,
  });
  return (req, res, next) => {
    sdk(req, res, (err?: unknown) => {
      if (err) return next(err);
      // A verifier that forgets the user id must not yield an ownerless session.
      if (!userIdOf(req.auth)) {
        res.status(401).json({ error: 'invalid_token', error_description: 'token carries no user identity' });
        return;
      }
      next();
    });
  };
}
