/**
 * Grants, authorization codes and refresh tokens in Redis. A grant is what one consent produced:
 * client, user, scopes and resource. Every token issued for it carries its id, and deleting the
 * grant key revokes all of them at once: access tokens (the verifier checks the grant still exists),
 * the current refresh token, and any code not yet exchanged.
 *
 * Keys (all with TTLs; docs/oauth.md):
 * - `oauth:grant:<gid>`        hash; TTL = code lifetime until the code is exchanged, then the
 *                              grant lifetime counted from consent.
 * - `oauth:code:<sha256>`      JSON of the code's bindings; TTL = code lifetime. Kept after use so
 *                              a replay can find (and revoke) the grant it produced.
 * - `oauth:code-spent:<sha256>` marks a used code (SET NX makes first use atomic across instances).
 *                              Set only after the code's bindings were checked (see token.ts).
 * - `oauth:refresh:<sha256>`   → gid, for every refresh token of the chain until the grant expires,
 *                              so a rotated-out token is recognised as reuse (OAuth 2.1 §4.3.1).
 *
 * Concurrent refreshes: a client whose access token expires while several of its requests are in
 * flight (a tool call, its answer to a sampling request, its GET stream) may refresh once per
 * request, all with the same refresh token. Treating the losers as reuse would revoke the grant
 * and strand the client mid-conversation. So a token's successor is derived from it under the
 * grant's secret `salt` (never stored in clear), and within `REFRESH_RACE_GRACE_MS` of a rotation
 * the token just rotated out gets the same successor again instead of revoking the grant. After
 * that, or for any older token, reuse revokes as before.
 */
import type { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Keyspace } from '../../../redis/keys.js';
import { deriveSecret, hashSecret, newOpaqueToken } from '../secrets.js';

export const CodeRecordSchema = z.object({
  grantId: z.string(),
  clientId: z.string(),
  userId: z.string(),
  redirectUri: z.string(),
  /** Whether /authorize carried redirect_uri explicitly (then /token must repeat it; RFC 6749 §4.1.3). */
  redirectUriGiven: z.boolean(),
  codeChallenge: z.string(),
  scopes: z.array(z.string()),
  resource: z.string(),
});
export type CodeRecord = z.infer<typeof CodeRecordSchema>;

export interface Grant {
  id: string;
  clientId: string;
  userId: string;
  scopes: string[];
  resource: string;
  /** Epoch ms after which the grant and its refresh tokens are dead. */
  expiresAt: number;
}

/** First use of a code, or a second one (the caller revokes what the first produced, RFC 6749 §4.1.2). */
export type CodeSpend = 'first' | 'replayed';

export type RefreshOutcome =
  | { kind: 'rotated'; grant: Grant; refreshToken: string }
  | { kind: 'unknown' }
  | { kind: 'wrong-client' }
  /** A rotated-out token came back: the grant has been revoked (OAuth 2.1 §4.3.1, §6.1). */
  | { kind: 'reused'; grantId: string };

// Activation is conditional so a replay that revoked the grant between "code spent" and
// "tokens issued" wins: no tokens come out of a revoked grant. `refresh` is the current refresh
// token's hash, or NO_REFRESH for a client that gets none.
/** Stored as the grant's refresh hash when no refresh token was issued; no token hashes to it. */
const NO_REFRESH = '-';

const ACTIVATE = `
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('HEXISTS', KEYS[1], 'refresh') == 1 then return 0 end
redis.call('HSET', KEYS[1], 'refresh', ARGV[1])
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
return 1`;

// Compare-and-set on the current refresh-token hash: of two concurrent refreshes with the same
// token exactly one rotates; the other sees reuse.
const ROTATE = `
local cur = redis.call('HGET', KEYS[1], 'refresh')
if not cur then return -1 end
if cur ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'refresh', ARGV[2], 'rotatedAt', ARGV[3])
return 1`;

/** How long after a rotation the token rotated out still yields the same successor (see above). */
export const REFRESH_RACE_GRACE_MS = 10_000;

function remainingMs(g: Grant): number {
  return Math.max(1, g.expiresAt - Date.now());
}

export class GrantStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keyspace,
    private readonly codeSeconds: number,
    private readonly grantSeconds: number,
    private readonly clock: () => number = Date.now,
  ) {}

  grantKey(gid: string): string {
    return this.keys.oauth('grant', gid);
  }

  /** At consent: a pending grant plus the code that will activate it. Returns the code. */
  async createCode(input: Omit<CodeRecord, 'grantId'>): Promise<string> {
    const grantId = randomBytes(16).toString('base64url');
    const code = newOpaqueToken();
    const record: CodeRecord = { ...input, grantId };
    // Grant first, code second, each with its TTL: the two keys may live on different cluster
    // shards, so they cannot share a MULTI. A code never points at a grant not yet written.
    await this.redis
      .multi()
      .hset(this.grantKey(grantId), {
        clientId: input.clientId,
        userId: input.userId,
        scopes: input.scopes.join(' '),
        resource: input.resource,
        expiresAt: String(Date.now() + this.grantSeconds * 1000),
        salt: newOpaqueToken(),
      })
      .expire(this.grantKey(grantId), this.codeSeconds)
      .exec();
    await this.redis.set(this.keys.oauth('code', hashSecret(code)), JSON.stringify(record), 'EX', this.codeSeconds);
    return code;
  }

  /** The bindings of a live code (used or not), without touching it. */
  async codeRecord(code: string): Promise<CodeRecord | undefined> {
    const raw = await this.redis.get(this.keys.oauth('code', hashSecret(code)));
    if (raw === null) return undefined;
    const parsed = CodeRecordSchema.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : undefined;
  }

  /**
   * Marks the code used. Atomic across instances (SET NX): of any number of concurrent callers
   * exactly one sees 'first'. Call it only once the caller proved it may redeem the code.
   */
  async spendCode(code: string): Promise<CodeSpend> {
    const first = await this.redis.set(
      this.keys.oauth('code-spent', hashSecret(code)),
      '1',
      'EX',
      this.codeSeconds,
      'NX',
    );
    return first === 'OK' ? 'first' : 'replayed';
  }

  /**
   * After a successful code exchange. With `refresh`, the grant lives its full lifetime and gets
   * its first refresh token; without, it lives until `accessTokenUntil` (epoch ms), as long as the
   * one access token that can come out of it. Undefined if the grant was revoked meanwhile.
   */
  async activate(
    grantId: string,
    opts: { refresh: boolean; accessTokenUntil: number },
  ): Promise<{ grant: Grant; refreshToken: string | undefined } | undefined> {
    const grant = await this.get(grantId);
    if (!grant) return undefined;
    const refreshToken = opts.refresh ? newOpaqueToken() : undefined;
    const h = refreshToken === undefined ? NO_REFRESH : hashSecret(refreshToken);
    const until = refreshToken === undefined ? Math.min(grant.expiresAt, opts.accessTokenUntil) : grant.expiresAt;
    const ok = await this.redis.eval(ACTIVATE, 1, this.grantKey(grantId), h, String(until));
    if (ok !== 1) return undefined;
    if (refreshToken !== undefined)
      await this.redis.set(this.keys.oauth('refresh', h), grantId, 'PX', remainingMs(grant));
    return { grant, refreshToken };
  }

  /**
   * Rotates a refresh token. `precheck` sees the grant before anything changes; if it throws, the
   * presented token stays current (request-level errors such as a widened scope are not reuse).
   */
  async rotateRefreshToken(presented: string, clientId: string, precheck: (g: Grant) => void): Promise<RefreshOutcome> {
    const h = hashSecret(presented);
    const gid = await this.redis.get(this.keys.oauth('refresh', h));
    if (gid === null) return { kind: 'unknown' };
    const fields = await this.redis.hgetall(this.grantKey(gid));
    const grant = this.parse(gid, fields);
    if (!grant || fields['refresh'] === undefined) return { kind: 'unknown' };
    // A token presented by another client is not reuse by the legitimate holder; refuse without
    // revoking, so one client cannot kill another's grant.
    if (grant.clientId !== clientId) return { kind: 'wrong-client' };
    // A grant from before salts existed rotates to random tokens, without the grace.
    const salt = fields['salt'];
    const next = salt === undefined ? newOpaqueToken() : deriveSecret(salt, presented);
    const nh = hashSecret(next);
    const rotatedToNext = (f: Record<string, string>) =>
      salt !== undefined && f['refresh'] === nh && this.clock() - Number(f['rotatedAt'] ?? 0) <= REFRESH_RACE_GRACE_MS;
    if (fields['refresh'] !== h) {
      // A concurrent refresh with this token rotated it a moment ago: the same successor again.
      if (rotatedToNext(fields)) {
        precheck(grant);
        return { kind: 'rotated', grant, refreshToken: next };
      }
      await this.revoke(gid);
      return { kind: 'reused', grantId: gid };
    }
    precheck(grant);
    const r = await this.redis.eval(ROTATE, 1, this.grantKey(gid), h, nh, String(this.clock()));
    if (r === -1) return { kind: 'unknown' };
    if (r === 0) {
      // Lost the compare-and-set to a concurrent refresh: with the same token, that one rotated it
      // to the same successor; anything else is reuse.
      if (rotatedToNext(await this.redis.hgetall(this.grantKey(gid))))
        return { kind: 'rotated', grant, refreshToken: next };
      await this.revoke(gid);
      return { kind: 'reused', grantId: gid };
    }
    await this.redis.set(this.keys.oauth('refresh', nh), gid, 'PX', remainingMs(grant));
    return { kind: 'rotated', grant, refreshToken: next };
  }

  /** The live grant a refresh token belongs to (introspection, revocation), if the token is current. */
  async grantOfRefreshToken(presented: string): Promise<Grant | undefined> {
    const h = hashSecret(presented);
    const gid = await this.redis.get(this.keys.oauth('refresh', h));
    if (gid === null) return undefined;
    const fields = await this.redis.hgetall(this.grantKey(gid));
    if (fields['refresh'] !== h) return undefined;
    return this.parse(gid, fields);
  }

  async get(gid: string): Promise<Grant | undefined> {
    const fields = await this.redis.hgetall(this.grantKey(gid));
    return this.parse(gid, fields);
  }

  /**
   * Whether the grant still exists. /mcp asks the same question inside the rate limits' script
   * (key `grantKey`, src/http/rateLimit.ts); this is for every other caller.
   */
  async isLive(gid: string): Promise<boolean> {
    return (await this.redis.exists(this.grantKey(gid))) === 1;
  }

  async revoke(gid: string): Promise<void> {
    await this.redis.del(this.grantKey(gid));
  }

  private parse(gid: string, f: Record<string, string>): Grant | undefined {
    if (!f['clientId'] || !f['userId'] || f['resource'] === undefined || !f['expiresAt']) return undefined;
    return {
      id: gid,
      clientId: f['clientId'],
      userId: f['userId'],
      scopes: (f['scopes'] ?? '').split(' ').filter((s) => s.length > 0),
      resource: f['resource'],
      expiresAt: Number(f['expiresAt']),
    };
  }
}
