/**
 * POST /register: OAuth 2.0 Dynamic Client Registration (RFC 7591 §3).
 *
 * Our own handler rather than the SDK's: SDK v2 dropped the authorization-server helpers (only the
 * frozen, deprecated `@modelcontextprotocol/server-legacy` has them), and the SDK 1.x handler kept
 * whatever metadata its schema allowed. Here the body is bounded, only the fields this server uses
 * are kept (clientMetadata.ts), and live registrations per address are capped.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import { ipKeyGenerator } from 'express-rate-limit';
import type { Logger } from '../../../observability/logger.js';
import { OAuthError, OAuthErrorCode } from '../../oauthError.js';
import { acceptClientMetadata, parseClientMetadata } from '../clientMetadata.js';
import { sendOAuthError } from '../errors.js';
import { hashSecret } from '../secrets.js';
import type { ClientStore } from '../stores/clients.js';

export interface RegisterDeps {
  clients: ClientStore;
  /** Live registrations one address may hold. */
  maxClientsPerAddress: number;
  log: Logger;
}

export function registerHandler(deps: RegisterDeps): RequestHandler {
  return async (req, res) => {
    // RFC 7591 §3.2.1: the response carries credentials.
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Pragma', 'no-cache');
    try {
      if (!req.is('application/json')) {
        throw new OAuthError(
          OAuthErrorCode.InvalidClientMetadata,
          'the registration request must be application/json (RFC 7591 §3.1)',
        );
      }
      const clientId = randomUUID();
      const info = acceptClientMetadata(parseClientMetadata(req.body), clientId);
      const now = Math.floor(Date.now() / 1000);
      info.client_id_issued_at = now;
      let secret: string | undefined;
      if (info.token_endpoint_auth_method !== 'none') {
        secret = randomBytes(32).toString('hex');
        info.client_secret_expires_at = now + deps.clients.lifetimeSeconds;
      }
      // Express's `req.ip` honours the app's `trust proxy` (TRUST_PROXY_HOPS), as every limit does.
      const address = ipKeyGenerator(req.ip ?? 'unknown');
      if (!(await deps.clients.register(info, secret && hashSecret(secret), address, deps.maxClientsPerAddress))) {
        deps.log.warn(
          { limit: deps.maxClientsPerAddress },
          'client registration refused: too many live registrations from one address',
        );
        throw new OAuthError(
          OAuthErrorCode.TooManyRequests,
          'too many client registrations from this address; reuse an existing registration',
        );
      }
      deps.log.info({ clientId, method: info.token_endpoint_auth_method }, 'client registered');
      // The plaintext secret leaves this server exactly once: in this response.
      res.status(201).json(secret ? { ...info, client_secret: secret } : info);
    } catch (err) {
      sendOAuthError(res, err, deps.log, 'register');
    }
  };
}
