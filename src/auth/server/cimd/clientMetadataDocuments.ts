/**
 * Client ID Metadata Documents: a client_id that is an https URL names a JSON document describing
 * the client (draft-ietf-oauth-client-id-metadata-document). The AS fetches it (SSRF-guarded),
 * requires its `client_id` to equal the URL exactly (§4.1), validates it with the same bounded
 * schema and policy as registration, and caches the result in-process and in Redis so N instances
 * fetch it once per cache period.
 *
 * Caching (§4.3: the AS SHOULD respect HTTP cache headers): the document's `Cache-Control`
 * (`max-age`, or `no-store`/`no-cache`) sets the lifetime, bounded below so one sign-in does not
 * fetch the same document four times and above so a change reaches us within a day; without the
 * header the configured default applies. A failure (unreachable, refused address, invalid
 * document) is remembered briefly, so a broken client cannot make every /authorize fetch again.
 */
import type { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import { z } from 'zod';
import type { Keyspace } from '../../../redis/keys.js';
import { OAuthError, OAuthErrorCode, isOAuthError } from '../../oauthError.js';
import {
  ClientInfoSchema,
  ClientMetadataSchema,
  acceptClientMetadata,
  parseClientMetadata,
  type ClientInfo,
} from '../clientMetadata.js';
import { hashSecret } from '../secrets.js';
import { ClientMetadataFetchError, type ClientMetadataFetcher } from './fetchClientMetadata.js';

/** Bounds on a document's own cache lifetime. */
export const CIMD_MIN_CACHE_SECONDS = 30;
export const CIMD_MAX_CACHE_SECONDS = 24 * 3600;
/** How long a failed fetch or an invalid document is remembered. */
export const CIMD_FAILURE_CACHE_SECONDS = 10;

export function isClientIdMetadataUrl(clientId: string): boolean {
  return clientId.startsWith('https://');
}

/** §3: https, with a path, no fragment, no credentials, no dot segments. */
function urlProblem(clientId: string): string | undefined {
  if (clientId.length > 2048) return 'is too long';
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

const DocumentSchema = ClientMetadataSchema.extend({
  client_id: z.string().max(2048),
  client_secret: z.undefined({ message: 'a metadata document must not contain client_secret' }).optional(),
});

/** What the caches hold: the validated client, or why the document was refused. */
const CachedSchema = z.union([z.object({ client: ClientInfoSchema }), z.object({ error: z.string() })]);
type Cached = z.infer<typeof CachedSchema>;

function invalidClient(message: string): OAuthError {
  return new OAuthError(OAuthErrorCode.InvalidClient, message);
}

/** Lifetime in seconds from a Cache-Control header, or undefined when it says nothing usable. */
export function cacheSecondsFrom(cacheControl: string | undefined): number | undefined {
  if (!cacheControl) return undefined;
  const directives = cacheControl
    .toLowerCase()
    .split(',')
    .map((d) => d.trim());
  if (directives.some((d) => d === 'no-store' || d === 'no-cache')) return 0;
  const maxAge = directives.find((d) => d.startsWith('max-age='));
  const seconds = maxAge === undefined ? NaN : Number(maxAge.slice('max-age='.length));
  return Number.isInteger(seconds) && seconds >= 0 ? seconds : undefined;
}

export class ClientMetadataDocuments {
  private readonly memory = new LRUCache<string, Cached>({ max: 1000, ttl: CIMD_MAX_CACHE_SECONDS * 1000 });

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keyspace,
    private readonly fetchDocument: ClientMetadataFetcher,
    /** Lifetime for documents without cache headers; 0 turns caching off altogether. */
    private readonly defaultCacheSeconds: number,
  ) {}

  /** The client the document describes; throws `invalid_client` naming what is wrong. */
  async resolve(clientId: string): Promise<ClientInfo> {
    const problem = urlProblem(clientId);
    if (problem) throw invalidClient(`client_id metadata URL ${problem}`);
    const cached = await this.cached(clientId);
    if (cached) return this.unwrap(cached);

    let result: Cached;
    let seconds: number;
    try {
      const fetched = await this.fetchDocument(new URL(clientId));
      result = { client: this.validate(clientId, fetched.document) };
      const wanted = cacheSecondsFrom(fetched.cacheControl) ?? this.defaultCacheSeconds;
      seconds = Math.min(CIMD_MAX_CACHE_SECONDS, Math.max(CIMD_MIN_CACHE_SECONDS, wanted));
    } catch (err) {
      if (err instanceof ClientMetadataFetchError || isOAuthError(err)) result = { error: err.message };
      else result = { error: 'client metadata document could not be fetched' };
      seconds = CIMD_FAILURE_CACHE_SECONDS;
    }
    await this.remember(clientId, result, seconds);
    return this.unwrap(result);
  }

  private unwrap(c: Cached): ClientInfo {
    if ('error' in c) throw invalidClient(c.error);
    return c.client;
  }

  private redisKey(clientId: string): string {
    return this.keys.oauth('cimd', hashSecret(clientId));
  }

  private async cached(clientId: string): Promise<Cached | undefined> {
    if (this.defaultCacheSeconds === 0) return undefined;
    const local = this.memory.get(clientId);
    if (local) return local;
    const raw = await this.redis.get(this.redisKey(clientId));
    if (raw === null) return undefined;
    const parsed = CachedSchema.safeParse(JSON.parse(raw));
    if (!parsed.success) return undefined;
    const ttl = await this.redis.pttl(this.redisKey(clientId));
    if (ttl > 0) this.memory.set(clientId, parsed.data, { ttl });
    return parsed.data;
  }

  private async remember(clientId: string, c: Cached, seconds: number): Promise<void> {
    if (this.defaultCacheSeconds === 0) return;
    await this.redis.set(this.redisKey(clientId), JSON.stringify(c), 'EX', seconds);
    this.memory.set(clientId, c, { ttl: seconds * 1000 });
  }

  private validate(clientId: string, doc: unknown): ClientInfo {
    const parsed = DocumentSchema.safeParse(doc);
    if (!parsed.success) {
      const first = parsed.error.issues[0];
      throw invalidClient(`invalid client metadata document: ${first?.path.join('.') || '(root)'}: ${first?.message}`);
    }
    const d = parsed.data;
    // §4.1: prevents a document at one URL from impersonating another client.
    if (d.client_id !== clientId) throw invalidClient('client metadata document client_id does not match its URL');
    // A document is public; anything it could use to authenticate would be public too. We support
    // only public clients (`none`) for metadata-document clients.
    const method = d.token_endpoint_auth_method ?? 'none';
    if (method !== 'none')
      throw invalidClient(`token_endpoint_auth_method ${method} is not supported for metadata-document clients`);
    try {
      return acceptClientMetadata(parseClientMetadata({ ...d, token_endpoint_auth_method: 'none' }), clientId);
    } catch (err) {
      if (isOAuthError(err)) throw invalidClient(`invalid client metadata document: ${err.message}`);
      throw err;
    }
  }
}
