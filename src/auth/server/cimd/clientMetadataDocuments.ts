/**
 * Client ID Metadata Documents: a client_id that is an https URL names a JSON document describing
 * the client (draft-ietf-oauth-client-id-metadata-document). The AS fetches it (SSRF-guarded),
 * requires its `client_id` to equal the URL exactly (§4.1), validates the redirect URIs with the
 * same policy as registration, and caches the result in-process and in Redis so N instances fetch
 * it once per cache period.
 */
import { InvalidClientError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import { OAuthClientMetadataSchema, type OAuthClientInformationFull } from '@modelcontextprotocol/sdk/shared/auth.js';
import type { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import { z } from 'zod';
import type { Keyspace } from '../../../redis/keys.js';
import { redirectUriProblem } from '../redirectUris.js';
import { hashSecret } from '../secrets.js';
import { ClientMetadataFetchError, type ClientMetadataFetcher } from './fetchClientMetadata.js';

export function isClientIdMetadataUrl(clientId: string): boolean {
  return clientId.startsWith('https://');
}

/** §3: https, with a path, no fragment, no credentials, no dot segments. */
function urlProblem(clientId: string): string | undefined {
  let u: URL;
  try {
    u = new URL(clientId);
  } catch {
    return 'is not a URL';
  }
  if (u.protocol !== 'https:') return 'must use https';
  if (u.pathname === '/' || u.pathname === '') return 'must have a path';
  if (clientId.includes('#')) return 'must not have a fragment';
  if (u.username !== '' || u.password !== '') return 'must not contain credentials';
  if (/\/\.{1,2}(\/|$|\?)/.test(clientId)) return 'must not contain dot segments';
  return undefined;
}

const DocumentSchema = OAuthClientMetadataSchema.extend({
  client_id: z.string(),
  client_secret: z.undefined({ message: 'a metadata document must not contain client_secret' }).optional(),
});

export class ClientMetadataDocuments {
  private readonly memory: LRUCache<string, OAuthClientInformationFull> | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keyspace,
    private readonly fetchDocument: ClientMetadataFetcher,
    private readonly cacheSeconds: number,
  ) {
    this.memory = cacheSeconds > 0 ? new LRUCache({ max: 1000, ttl: cacheSeconds * 1000 }) : undefined;
  }

  /** The client the document describes; throws `invalid_client` naming what is wrong. */
  async resolve(clientId: string): Promise<OAuthClientInformationFull> {
    const problem = urlProblem(clientId);
    if (problem) throw new InvalidClientError(`client_id metadata URL ${problem}`);
    const cached = this.memory?.get(clientId);
    if (cached) return cached;
    const redisKey = this.keys.oauth('cimd', hashSecret(clientId));
    if (this.cacheSeconds > 0) {
      const raw = await this.redis.get(redisKey);
      if (raw !== null) {
        const info = OAuthClientMetadataSchema.extend({ client_id: z.string() }).parse(JSON.parse(raw));
        this.memory?.set(clientId, info);
        return info;
      }
    }
    let doc: unknown;
    try {
      doc = await this.fetchDocument(new URL(clientId));
    } catch (err) {
      if (err instanceof ClientMetadataFetchError) throw new InvalidClientError(err.message);
      throw new InvalidClientError('client metadata document could not be fetched');
    }
    const info = this.validate(clientId, doc);
    if (this.cacheSeconds > 0) {
      await this.redis.set(redisKey, JSON.stringify(info), 'EX', this.cacheSeconds);
      this.memory?.set(clientId, info);
    }
    return info;
  }

  private validate(clientId: string, doc: unknown): OAuthClientInformationFull {
    const parsed = DocumentSchema.safeParse(doc);
    if (!parsed.success) {
      const first = parsed.error.issues[0];
      throw new InvalidClientError(`invalid client metadata document: ${first?.path.join('.') || '(root)'}: ${first?.message}`);
    }
    const d = parsed.data;
    // §4.1: prevents a document at one URL from impersonating another client.
    if (d.client_id !== clientId) throw new InvalidClientError('client metadata document client_id does not match its URL');
    // A document is public; anything it could use to authenticate would be public too. We support
    // only public clients (`none`) for metadata-document clients.
    const method = d.token_endpoint_auth_method ?? 'none';
    if (method !== 'none') {
      throw new InvalidClientError(`token_endpoint_auth_method ${method} is not supported for metadata-document clients`);
    }
    if (d.redirect_uris.length === 0) throw new InvalidClientError('client metadata document lists no redirect_uris');
    for (const uri of d.redirect_uris) {
      const p = redirectUriProblem(uri);
      if (p) throw new InvalidClientError(`client metadata redirect_uri ${uri} ${p}`);
    }
    const { client_secret: _secret, ...rest } = d;
    return { ...rest, token_endpoint_auth_method: 'none' };
  }
}
