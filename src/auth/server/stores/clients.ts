/**
 * Registered clients. Dynamic registrations (RFC 7591) live in Redis under `oauth:client:<id>`
 * with a TTL of the registration lifetime; confidential clients' secrets are stored only as
 * SHA-256 hashes. A client_id that is an https URL is a Client ID Metadata Document client instead.
 *
 * `registrationStore` adapts this to the SDK's `OAuthRegisteredClientsStore` so its
 * `clientRegistrationHandler` (schema validation, id and secret generation) can be reused; our
 * `registerClient` adds the policy the SDK leaves to us and returns the plaintext secret once,
 * in the registration response.
 */
import { CustomOAuthError, InvalidClientMetadataError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import type { OAuthRegisteredClientsStore } from '@modelcontextprotocol/sdk/server/auth/clients.js';
import {
  OAuthClientInformationFullSchema,
  type OAuthClientInformationFull,
} from '@modelcontextprotocol/sdk/shared/auth.js';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { Keyspace } from '../../../redis/keys.js';
import { ClientMetadataDocuments, isClientIdMetadataUrl } from '../cimd/clientMetadataDocuments.js';
import { redirectUriProblem } from '../redirectUris.js';
import { hashSecret } from '../secrets.js';

export const SUPPORTED_CLIENT_AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'none'] as const;
export const SUPPORTED_GRANT_TYPES = ['authorization_code', 'refresh_token'] as const;

export interface KnownClient {
  info: OAuthClientInformationFull;
  /** SHA-256 of the client secret; absent for public clients. */
  secretHash?: string;
  /** Whether the client came from a metadata document (consent page shows a warning for loopback-only ones). */
  metadataDocument: boolean;
}

const StoredClientSchema = z.object({
  info: OAuthClientInformationFullSchema,
  secretHash: z.string().optional(),
});

const MAX_REDIRECT_URIS = 10;

export class ClientStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keyspace,
    private readonly documents: ClientMetadataDocuments,
    private readonly registrationSeconds: number,
  ) {}

  private key(clientId: string) {
    return this.keys.oauth('client', clientId);
  }

  /** Undefined for an unknown client; throws invalid_client for a broken metadata document. */
  async get(clientId: string): Promise<KnownClient | undefined> {
    if (isClientIdMetadataUrl(clientId)) {
      return { info: await this.documents.resolve(clientId), metadataDocument: true };
    }
    if (clientId.length === 0 || clientId.length > 200) return undefined;
    const raw = await this.redis.get(this.key(clientId));
    if (raw === null) return undefined;
    const stored = StoredClientSchema.parse(JSON.parse(raw));
    return { info: stored.info, secretHash: stored.secretHash, metadataDocument: false };
  }

  get registrationStore(): OAuthRegisteredClientsStore {
    return {
      getClient: async (id) => (await this.get(id))?.info,
      registerClient: (client) => this.register(client as OAuthClientInformationFull),
    };
  }

  private async register(client: OAuthClientInformationFull): Promise<OAuthClientInformationFull> {
    if (client.redirect_uris.length === 0) throw new CustomOAuthError('invalid_redirect_uri', 'at least one redirect_uri is required');
    if (client.redirect_uris.length > MAX_REDIRECT_URIS) {
      throw new CustomOAuthError('invalid_redirect_uri', `at most ${MAX_REDIRECT_URIS} redirect_uris`);
    }
    for (const uri of client.redirect_uris) {
      const problem = redirectUriProblem(uri);
      // RFC 7591 §3.2.2 names this error code.
      if (problem) throw new CustomOAuthError('invalid_redirect_uri', `redirect_uri ${uri} ${problem}`);
    }
    // RFC 7591 §2: the default method is client_secret_basic; the SDK's handler issued a secret for it.
    const method = client.token_endpoint_auth_method ?? 'client_secret_basic';
    if (!(SUPPORTED_CLIENT_AUTH_METHODS as readonly string[]).includes(method)) {
      throw new InvalidClientMetadataError(`token_endpoint_auth_method ${method} is not supported`);
    }
    const grantTypes = client.grant_types ?? ['authorization_code'];
    for (const g of grantTypes) {
      if (!(SUPPORTED_GRANT_TYPES as readonly string[]).includes(g)) throw new InvalidClientMetadataError(`grant type ${g} is not supported`);
    }
    for (const r of client.response_types ?? ['code']) {
      if (r !== 'code') throw new InvalidClientMetadataError(`response type ${r} is not supported`);
    }
    if ((client.client_name?.length ?? 0) > 200) throw new InvalidClientMetadataError('client_name is too long');

    const { client_secret: secret, ...rest } = client;
    const info: OAuthClientInformationFull = {
      ...rest,
      token_endpoint_auth_method: method,
      grant_types: grantTypes,
      response_types: client.response_types ?? ['code'],
    };
    if (method === 'none') delete info.client_secret_expires_at;
    else if (!secret) throw new InvalidClientMetadataError('a confidential client needs a secret');
    const stored = { info, secretHash: method === 'none' || !secret ? undefined : hashSecret(secret) };
    await this.redis.set(this.key(info.client_id), JSON.stringify(stored), 'EX', this.registrationSeconds);
    // The plaintext secret leaves this server exactly once: in the registration response.
    return method === 'none' ? info : { ...info, client_secret: secret };
  }
}
