/**
 * Strategy 2: OAuth 2.0 Token Introspection (RFC 7662). The resource server asks the AS about each
 * token, authenticating with its own client credentials (§2.1), and caches the answer:
 * - active results for min(token exp, INTROSPECTION_CACHE_TTL_SECONDS): a revoked token stays
 *   usable at most that long, which is the trade the operator chose with the TTL;
 * - inactive results only briefly, so a flood of one bad token does not reach the AS, yet a token
 *   that becomes valid (clock skew at issuance) is not refused for long;
 * - in a bounded LRU keyed by a hash of the token, so memory is capped and no raw tokens sit in it.
 * Concurrent requests with the same uncached token share one introspection call.
 */
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { z } from 'zod';
import { invalidToken } from '../oauthError.js';
import type { AuthInfo, OAuthTokenVerifier } from '../types.js';
import type { AuthServerFetch } from './authServerFetch.js';
import { audienceMatches, toAuthInfo, type ClaimMapping } from './authInfo.js';
import type { AuthorizationServerMetadata } from './discovery.js';
import { sameIssuer } from './discovery.js';
import { AuthServerUnavailableError } from './errors.js';

/** RFC 7662 §2.2; other members pass through for USER_ID_CLAIM. */
const IntrospectionResponseSchema = z
  .object({
    active: z.boolean(),
    exp: z.number().optional(),
    nbf: z.number().optional(),
    iss: z.string().optional(),
    aud: z.union([z.string(), z.array(z.string())]).optional(),
    token_type: z.string().optional(),
  })
  .passthrough();

export interface IntrospectionVerifierOptions {
  issuer: string;
  discover: () => Promise<AuthorizationServerMetadata>;
  fetchAs: AuthServerFetch;
  /** Overrides the metadata's introspection_endpoint. */
  endpoint?: string;
  clientId: string;
  clientSecret: string;
  authMethod: 'client_secret_basic' | 'client_secret_post';
  audiences: string[];
  clockSkewSeconds: number;
  cacheMax: number;
  cacheTtlSeconds: number;
  negativeCacheSeconds: number;
  mapping: ClaimMapping;
  now?: () => number;
}

type Verdict = { ok: true; info: AuthInfo } | { ok: false; reason: string };

export function createIntrospectionVerifier(opts: IntrospectionVerifierOptions): OAuthTokenVerifier {
  const now = opts.now ?? Date.now;
  const cache = opts.cacheMax > 0 ? new LRUCache<string, Verdict>({ max: opts.cacheMax }) : undefined;
  const inFlight = new Map<string, Promise<Verdict>>();

  const endpoint = async (): Promise<string> => {
    if (opts.endpoint) return opts.endpoint;
    const meta = await opts.discover();
    if (!meta.introspection_endpoint) {
      throw new AuthServerUnavailableError(`issuer ${meta.issuer} publishes no introspection_endpoint`, 30);
    }
    return meta.introspection_endpoint;
  };

  const introspect = async (token: string): Promise<Verdict> => {
    const body = new URLSearchParams({ token, token_type_hint: 'access_token' });
    const headers: Record<string, string> = {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    };
    if (opts.authMethod === 'client_secret_basic') {
      // RFC 6749 §2.3.1: id and secret are form-urlencoded before base64.
      const id = encodeURIComponent(opts.clientId);
      const secret = encodeURIComponent(opts.clientSecret);
      headers['authorization'] = `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
    } else {
      body.set('client_id', opts.clientId);
      body.set('client_secret', opts.clientSecret);
    }
    const res = await opts.fetchAs(await endpoint(), { method: 'POST', headers, body });
    if (res.status !== 200) {
      await res.body?.cancel().catch(() => undefined);
      // 401/403 here means OUR credentials are wrong: an operator problem, not the client's token.
      throw new AuthServerUnavailableError(`introspection endpoint answered HTTP ${res.status}`, 30);
    }
    const parsed = IntrospectionResponseSchema.safeParse(await res.json().catch(() => undefined));
    if (!parsed.success) throw new AuthServerUnavailableError('introspection endpoint sent an invalid response', 5);
    return judge(parsed.data);
  };

  const judge = (r: z.infer<typeof IntrospectionResponseSchema>): Verdict => {
    const t = now() / 1000;
    if (!r.active) return { ok: false, reason: 'token is not active' };
    if (r.iss !== undefined && !sameIssuer(r.iss, opts.issuer))
      return { ok: false, reason: 'token issued by another issuer' };
    // MCP authorization: accept only tokens issued for this resource. An AS that omits `aud`
    // cannot tell us that, so such tokens are refused.
    if (!audienceMatches(r.aud, opts.audiences)) return { ok: false, reason: 'token audience is not this resource' };
    if (r.exp === undefined) return { ok: false, reason: 'token has no expiration time' };
    if (r.exp + opts.clockSkewSeconds < t) return { ok: false, reason: 'token expired' };
    if (r.nbf !== undefined && r.nbf - opts.clockSkewSeconds > t) return { ok: false, reason: 'token not yet valid' };
    if (r.token_type !== undefined && r.token_type.toLowerCase() === 'refresh_token') {
      return { ok: false, reason: 'refresh tokens are not access tokens' };
    }
    try {
      return { ok: true, info: toAuthInfo(r, opts.mapping) };
    } catch (err) {
      return { ok: false, reason: (err as Error).message };
    }
  };

  const remember = (key: string, v: Verdict): void => {
    if (!cache) return;
    const ttlMs = v.ok
      ? Math.min(opts.cacheTtlSeconds * 1000, (v.info.expiresAt ?? 0) * 1000 - now())
      : opts.negativeCacheSeconds * 1000;
    if (ttlMs > 0) cache.set(key, v, { ttl: ttlMs });
  };

  return {
    async verifyAccessToken(token) {
      const key = createHash('sha256').update(token).digest('base64url');
      let verdict = cache?.get(key);
      if (!verdict) {
        let pending = inFlight.get(key);
        if (!pending) {
          pending = introspect(token).finally(() => inFlight.delete(key));
          inFlight.set(key, pending);
        }
        verdict = await pending;
        remember(key, verdict);
      }
      // A cached active verdict may have outlived exp by less than the TTL granularity.
      if (verdict.ok && (verdict.info.expiresAt ?? 0) + opts.clockSkewSeconds < now() / 1000) {
        throw invalidToken('token expired');
      }
      if (!verdict.ok) throw invalidToken(verdict.reason);
      return verdict.info;
    },
  };
}
