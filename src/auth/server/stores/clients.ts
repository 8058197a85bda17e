/**
 * Registered clients. Dynamic registrations (RFC 7591) live in Redis under `oauth:client:<id>`
 * with a TTL of the registration lifetime; confidential clients' secrets are stored only as
 * SHA-256 hashes. A client_id that is an https URL is a Client ID Metadata Document client instead.
 *
 * Registration is unauthenticated, so besides the per-address rate limit the number of live
 * registrations per address is capped (`oauth:clients-by-address:<hash>`, a sorted set of client
 * ids scored by their expiry): a registration costs storage for weeks, a request only a moment.
 */
import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { Keyspace } from '../../../redis/keys.js';
import { ClientMetadataDocuments, isClientIdMetadataUrl } from '../cimd/clientMetadataDocuments.js';
import { ClientInfoSchema, type ClientInfo } from '../clientMetadata.js';
import { hashSecret } from '../secrets.js';

export interface KnownClient {
  info: ClientInfo;
  /** SHA-256 of the client secret; absent for public clients. */
  secretHash?: string;
  /** Whether the client came from a metadata document (consent page shows a warning for loopback-only ones). */
  metadataDocument: boolean;
}

const StoredClientSchema = z.object({
  info: ClientInfoSchema,
  secretHash: z.string().optional(),
});

// Prune expired entries, then admit the new id only below the cap. One key: safe on Redis Cluster.
const RESERVE = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
return 1`;

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

  get lifetimeSeconds(): number {
    return this.registrationSeconds;
  }

  /** Undefined for an unknown client; throws invalid_client for a broken metadata document. */
  async get(clientId: string): Promise<KnownClient | undefined> {
    if (isClientIdMetadataUrl(clientId)) {
      return { info: await this.documents.resolve(clientId), metadataDocument: true };
    }
    if (clientId.length === 0 || clientId.length > 200) return undefined;
    const raw = await this.redis.get(this.key(clientId));
    if (raw === null) return undefined;
    const stored = StoredClientSchema.safeParse(JSON.parse(raw));
    // A record this version cannot read is a client that must register again.
    if (!stored.success) return undefined;
    return { info: stored.data.info, secretHash: stored.data.secretHash, metadataDocument: false };
  }

  /**
   * Stores a registration unless `address` already holds `maxPerAddress` live ones; false then.
   * The address is the rate-limit key of the registering request (proxy-aware, IPv6 by prefix).
   */
  async register(
    info: ClientInfo,
    secretHash: string | undefined,
    address: string,
    maxPerAddress: number,
  ): Promise<boolean> {
    const now = Date.now();
    const expiresAt = now + this.registrationSeconds * 1000;
    const admitted = await this.redis.eval(
      RESERVE,
      1,
      this.keys.oauth('clients-by-address', hashSecret(address)),
      String(now),
      String(maxPerAddress),
      String(expiresAt),
      info.client_id,
    );
    if (admitted !== 1) return false;
    await this.redis.set(
      this.key(info.client_id),
      JSON.stringify({ info, secretHash }),
      'EX',
      this.registrationSeconds,
    );
    return true;
  }
}
