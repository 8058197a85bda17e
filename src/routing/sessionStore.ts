/**
 * Session records in Redis: everything another instance needs to take over a session whose host
 * died (owner, negotiated protocol version, the initialize request, log level, subscriptions).
 * Every key carries a TTL refreshed by the host while the session is active, and is deleted when
 * the session ends.
 */
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { inBatches } from '../redis/batches.js';
import type { Keyspace } from '../redis/keys.js';

export const SessionMetaSchema = z.object({
  owner: z.string(),
  host: z.string(),
  created: z.coerce.number(),
  seen: z.coerce.number(),
  /**
   * The client's initialize request, verbatim, replayed when another instance takes over. Always
   * present for Streamable HTTP sessions; an HTTP+SSE session gets it once the client POSTs it.
   */
  init: z.string().optional(),
  /**
   * Present only for legacy HTTP+SSE (2024-11-05) sessions: the instance holding the session's
   * /sse stream, which is where every answer goes. The stream cannot move, so the session lives
   * exactly as long as that stream (and that instance).
   */
  sse: z.string().optional(),
  /**
   * Present only for WebSocket sessions (/ws): the instance holding the socket, which every message
   * comes through; like `sse`, the session lives exactly as long as that socket.
   */
  ws: z.string().optional(),
  proto: z.string().optional(),
  level: z.string().optional(),
});
export type SessionMeta = z.infer<typeof SessionMetaSchema>;

export interface SessionRef {
  /** Hash of the owner's user id (see keys.userKey). */
  u: string;
  sessionId: string;
}

/** Compare-and-set of the host field: only one instance wins a takeover race. */
const CAS_HOST = `
if redis.call('HGET', KEYS[1], 'host') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'host', ARGV[2])
  return 1
end
return 0`;

/** Prunes expired entries of a user's session set, then adds the new session if below the cap. */
const RESERVE_SLOT = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1`;

/** Deletes / extends a lease only if it is still ours (a lapsed lease may belong to someone else). */
const RELEASE_IF_OWNER = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;
const EXTEND_IF_OWNER = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;
const REPLACE_IF_HOLDER = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1 end
return 0`;

export class SessionStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keyspace,
    /** Lifetime of an idle session's keys, in ms. */
    private readonly ttlMs: number,
  ) {}

  async create(ref: SessionRef, meta: Omit<SessionMeta, 'seen'>): Promise<void> {
    const k = this.keys.sessionMeta(ref.u, ref.sessionId);
    const userSet = this.keys.userSessions(ref.u);
    // Two transactions, not one: the user's index lives in another hash slot (keys.ts). Each key is
    // written together with its TTL, so neither can outlive the session.
    await Promise.all([
      this.redis
        .multi()
        .hset(k, { ...meta, seen: meta.created })
        .pexpire(k, this.ttlMs)
        .exec(),
      this.redis.multi().zadd(userSet, meta.created, ref.sessionId).pexpire(userSet, this.ttlMs).exec(),
    ]);
  }

  async load(ref: SessionRef): Promise<SessionMeta | undefined> {
    const raw = await this.redis.hgetall(this.keys.sessionMeta(ref.u, ref.sessionId));
    if (!raw || Object.keys(raw).length === 0) return undefined;
    const parsed = SessionMetaSchema.safeParse(raw);
    return parsed.success ? parsed.data : undefined;
  }

  async exists(ref: SessionRef): Promise<boolean> {
    return (await this.redis.exists(this.keys.sessionMeta(ref.u, ref.sessionId))) === 1;
  }

  async setFields(ref: SessionRef, fields: Partial<Pick<SessionMeta, 'proto' | 'level' | 'init'>>): Promise<void> {
    await this.redis.hset(this.keys.sessionMeta(ref.u, ref.sessionId), fields);
  }

  /** Removes every key of the session. Idempotent. */
  async delete(ref: SessionRef): Promise<boolean> {
    const [deleted] = await Promise.all([
      // One DEL: the session's keys share a hash slot (keys.ts).
      this.redis.del(
        this.keys.sessionMeta(ref.u, ref.sessionId),
        this.keys.sessionSubscriptions(ref.u, ref.sessionId),
        this.keys.sessionGetStream(ref.u, ref.sessionId),
        this.keys.sessionEvents(ref.u, ref.sessionId),
      ),
      this.redis.zrem(this.keys.userSessions(ref.u), ref.sessionId),
    ]);
    return deleted > 0;
  }

  /**
   * Pushes the TTL of active sessions forward and records their last activity, a batch of sessions
   * at a time (redis/batches.ts). A batch's commands are issued in one turn: they leave in one
   * write per connection (corkingRedis.ts; in a cluster, auto-pipelining per node), where a
   * pipeline object could not span the shards. Each user's session index is touched once.
   */
  async refresh(sessions: Array<SessionRef & { lastActivity: number }>): Promise<void> {
    const r = this.redis;
    await inBatches(sessions, (s) => {
      const meta = this.keys.sessionMeta(s.u, s.sessionId);
      // HSET recreates a key deleted meanwhile; the PEXPIRE right behind it bounds such a leftover.
      return Promise.all([
        r.hset(meta, 'seen', s.lastActivity),
        r.pexpire(meta, this.ttlMs),
        r.pexpire(this.keys.sessionSubscriptions(s.u, s.sessionId), this.ttlMs),
        r.pexpire(this.keys.sessionEvents(s.u, s.sessionId), this.ttlMs),
        r.zadd(this.keys.userSessions(s.u), 'XX', s.lastActivity, s.sessionId),
      ]);
    });
    const users = new Set(sessions.map((s) => s.u));
    await Promise.all([...users].map((u) => r.pexpire(this.keys.userSessions(u), this.ttlMs)));
  }

  async casHost(ref: SessionRef, expected: string, next: string): Promise<boolean> {
    const r = await this.redis.eval(CAS_HOST, 1, this.keys.sessionMeta(ref.u, ref.sessionId), expected, next);
    return r === 1;
  }

  /** Live sessions of a user, least recently used first (stale entries of expired sessions are pruned first). */
  async listForUser(u: string): Promise<string[]> {
    const k = this.keys.userSessions(u);
    await this.redis.zremrangebyscore(k, '-inf', Date.now() - this.ttlMs);
    return this.redis.zrange(k, 0, -1);
  }

  /**
   * Takes one of the user's `max` session slots for a new session, atomically (two instances
   * creating sessions for one user at once cannot both take the last slot). False when full.
   */
  async reserve(ref: SessionRef, max: number, now: number): Promise<boolean> {
    const r = await this.redis.eval(
      RESERVE_SLOT,
      1,
      this.keys.userSessions(ref.u),
      now - this.ttlMs,
      max,
      now,
      ref.sessionId,
      this.ttlMs,
    );
    return r === 1;
  }

  // ---- leases (one standalone GET stream per session) ----

  async acquireLock(key: string, token: string, leaseMs: number): Promise<boolean> {
    return (await this.redis.set(key, token, 'PX', leaseMs, 'NX')) === 'OK';
  }

  lockHolder(key: string): Promise<string | null> {
    return this.redis.get(key);
  }

  async replaceLock(key: string, holder: string, token: string, leaseMs: number): Promise<boolean> {
    return (await this.redis.eval(REPLACE_IF_HOLDER, 1, key, holder, token, leaseMs)) === 1;
  }

  async extendLock(key: string, token: string, leaseMs: number): Promise<void> {
    await this.redis.eval(EXTEND_IF_OWNER, 1, key, token, leaseMs);
  }

  async releaseLock(key: string, token: string): Promise<void> {
    await this.redis.eval(RELEASE_IF_OWNER, 1, key, token);
  }

  get ttl(): number {
    return this.ttlMs;
  }
}
