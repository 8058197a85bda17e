/**
 * Client authentication at /token, /revoke and /introspect (RFC 6749 §2.3.1): `client_secret_basic`,
 * `client_secret_post`, or `none` for public clients (client_id only). /introspect checks the
 * presented credentials against its configured resource servers instead of registered clients.
 *
 * Why not SDK 1.x's `authenticateClient` (v2 has none): it compares `client.client_secret` in plaintext (we keep
 * only hashes, so a Redis dump yields no usable secret), with a non-constant-time `!==`, and it does
 * not accept HTTP Basic, the method RFC 6749 says servers MUST support.
 */
import type { Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import type { Logger } from '../../observability/logger.js';
import { OAuthError, OAuthErrorCode } from '../oauthError.js';
import { sendOAuthError } from './errors.js';
import { secretMatchesHash } from './secrets.js';
import type { ClientStore, KnownClient } from './stores/clients.js';

const invalidClient = (message: string) => new OAuthError(OAuthErrorCode.InvalidClient, message);
const invalidRequest = (message: string) => new OAuthError(OAuthErrorCode.InvalidRequest, message);

export interface PresentedCredentials {
  clientId: string;
  clientSecret?: string;
  /** The Authorization header was used (a failure must then answer 401 + WWW-Authenticate). */
  basic: boolean;
}

const BodyCredentialsSchema = z.object({
  client_id: z.string().min(1).optional(),
  client_secret: z.string().min(1).optional(),
});

function decodeFormComponent(s: string): string {
  // RFC 6749 §2.3.1: Basic credentials are application/x-www-form-urlencoded before base64.
  return decodeURIComponent(s.replace(/\+/g, ' '));
}

export function presentedCredentials(req: Request): PresentedCredentials {
  const body = BodyCredentialsSchema.safeParse(req.body ?? {});
  if (!body.success) throw invalidRequest('client_id and client_secret must be single strings');
  const header = req.headers.authorization;
  if (header !== undefined) {
    const m = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(header.trim());
    if (!m) throw invalidClient('unsupported Authorization header for client authentication');
    const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw invalidClient('malformed Basic credentials');
    // RFC 6749 §2.3: a client MUST NOT use more than one authentication method per request.
    if (body.data.client_secret !== undefined) {
      throw invalidRequest('use either HTTP Basic or client_secret_post, not both');
    }
    let clientId: string;
    let clientSecret: string;
    try {
      clientId = decodeFormComponent(decoded.slice(0, colon));
      clientSecret = decodeFormComponent(decoded.slice(colon + 1));
    } catch {
      throw invalidClient('malformed Basic credentials');
    }
    if (body.data.client_id !== undefined && body.data.client_id !== clientId) {
      throw invalidRequest('client_id in the body differs from the Basic credentials');
    }
    return { clientId, clientSecret, basic: true };
  }
  if (!body.data.client_id) throw invalidClient('client authentication required (client_id missing)');
  return { clientId: body.data.client_id, clientSecret: body.data.client_secret, basic: false };
}

export async function authenticateClient(creds: PresentedCredentials, clients: ClientStore): Promise<KnownClient> {
  const client = await clients.get(creds.clientId);
  if (!client) throw invalidClient('unknown client');
  if (client.secretHash !== undefined) {
    if (creds.clientSecret === undefined) throw invalidClient('client secret required');
    if (!secretMatchesHash(creds.clientSecret, client.secretHash)) throw invalidClient('invalid client secret');
    const exp = client.info.client_secret_expires_at;
    if (exp !== undefined && exp !== 0 && exp < Math.floor(Date.now() / 1000)) {
      throw invalidClient('client secret has expired');
    }
  }
  return client;
}

/**
 * The opening every client-authenticated endpoint shares: the answer is never cached, the presented
 * credentials are checked by `authenticate`, then `handle` answers. Any failure is answered in the
 * OAuth error shape, with the Basic challenge when the client used HTTP Basic (RFC 6749 §5.2).
 */
export function clientAuthenticatedHandler<C>(
  where: string,
  log: Logger,
  authenticate: (creds: PresentedCredentials) => C | Promise<C>,
  handle: (client: C, req: Request, res: Response) => Promise<void>,
): RequestHandler {
  return async (req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    let basic = false;
    try {
      const creds = presentedCredentials(req);
      basic = creds.basic;
      await handle(await authenticate(creds), req, res);
    } catch (err) {
      sendOAuthError(res, err, log, where, basic);
    }
  };
}
