/**
 * Every Redis key and pub/sub channel name this project uses, in one place (docs/architecture.md
 * describes them). All names start with the configured prefix so deployments and test runs can
 * share one Redis.
 *
 * Session keys and channels embed a hash of the session's owner (`u`: the user id AND the OAuth
 * client id, see sessionOwnerKey) next to the session id: a request that carries another identity
 * computes a different name, finds no subscriber and no state, and gets the same 404 as an unknown
 * session (MCP security best practices: key queues and state as <user_id>:<session_id>).
 *
 * Redis Cluster hash tags: every key and channel of one session carries the tag `{u:sid}`, so they
 * all live in one hash slot, on one shard (Redis Cluster specification, "Hash tags"). A session's
 * MULTI blocks, multi-key DEL and scripts therefore stay in one slot, and its sharded channels sit
 * next to its keys. Sessions spread over the shards by their random ids. No other name needs a tag:
 * nothing else is touched by one command together with another key. On a single Redis the braces
 * are just characters.
 */
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';

/**
 * A truncated SHA-256 of the input, remembered: the same ids are hashed on every request of their
 * sessions, and the most recently used ones stay.
 */
function cachedDigest(): (input: string) => string {
  const cache = new LRUCache<string, string>({ max: 10_000 });
  return (input) => {
    let k = cache.get(input);
    if (k === undefined) {
      k = createHash('sha256').update(input).digest('hex').slice(0, 32);
      cache.set(input, k);
    }
    return k;
  };
}

const userDigest = cachedDigest();
const ownerDigest = cachedDigest();

/** Stable, fixed-length, key-safe stand-in for a user id (never reversible into the id's bytes). */
export function userKey(userId: string): string {
  return userDigest(userId);
}

/**
 * `u` of a session: who may see and drive it. The user AND the client (the OAuth client id the
 * token was issued to): a user's sessions in one client are invisible to the other clients that
 * user approved (security review finding 4). Length-prefixed, so no two (user, client) pairs
 * encode alike.
 */
export function sessionOwnerKey(userId: string, clientId: string): string {
  return ownerDigest(`${userId.length}:${userId}\n${clientId}`);
}

export interface Keyspace {
  prefix: string;
  // ---- sessions (routing core) ----
  /** Hash: owner, host instance, protocol version, initialize params, log level, timestamps. */
  sessionMeta(u: string, sessionId: string): string;
  /** Set of resource URIs the session subscribed to. */
  sessionSubscriptions(u: string, sessionId: string): string;
  /** String: which instance holds the session's standalone GET stream (one per session). */
  sessionGetStream(u: string, sessionId: string): string;
  /** Stream: the session's SSE event log, for `Last-Event-ID` resumption (src/routing/eventLog.ts). */
  sessionEvents(u: string, sessionId: string): string;
  /** Sorted set (score = last activity) of an owner's (user + client) live sessions, for admin listing and caps. */
  userSessions(u: string): string;
  /** Channel: client → host. Every inbound message and control command of a session. */
  sessionInbound(u: string, sessionId: string): string;
  /** Channel: host → standalone GET stream. Server messages unrelated to any request. */
  sessionOutbound(u: string, sessionId: string): string;
  /**
   * Address of one client request's replies: the reply channel of the instance holding the HTTP
   * response, plus the request's relay id. `Bus` publishes to an address on the instance's channel
   * with the relay id in the payload (`replyAddress` splits it).
   */
  reply(instanceId: string, relayId: string): string;
  /** Channel: host → relay instance, carrying the replies to every request that instance relays. */
  replyChannel(instanceId: string): string;
  /** The channel and relay id of a reply address; undefined for any other name. */
  replyAddress(name: string): { channel: string; relayId: string } | undefined;
  /** String with TTL: an instance's liveness heartbeat. */
  instance(instanceId: string): string;
  /**
   * Channel: change events (resource updated, tools/prompts/resources list changed) fanned out to
   * every instance: 2025 sessions and 2026-07-28 `subscriptions/listen` streams (routing/serverEventBus.ts).
   */
  serverEvents(): string;
  // ---- 2026-07-28 lane ----
  /**
   * Hash: the keys `requestState` is sealed with (kid → secret and validity), and `current`
   * (routing/requestStateKeys.ts).
   */
  requestStateKeys(): string;
  /**
   * Hash: one task of the tasks extension (status, timestamps, result or error, pending input);
   * its keys share one hash tag, so scripts may touch them together on Redis Cluster.
   */
  task(u: string, taskId: string): string;
  /** String with TTL: the lease of the instance running a task; gone = the worker was lost. */
  taskLease(u: string, taskId: string): string;
  /** Channel: cancellations and answered input for the tasks one instance runs. */
  taskSignals(instanceId: string): string;
  // ---- OAuth authorization server (namespaced under `oauth:`) ----
  oauth(kind: string, id: string): string;
  /**
   * The access-token signing keys (src/auth/server/signingKeys.ts): the pointers, the key records and
   * the JWKS listing change together in MULTI blocks, so they share one hash tag (one Cluster slot).
   */
  oauthSigning(name: string): string;
  /** Rate-limit counters. */
  rateLimit(scope: string): string;
}

export function createKeyspace(prefix: string): Keyspace {
  const p = prefix;
  const replies = `${p}:ch:reply:`;
  return {
    prefix: p,
    sessionMeta: (u, s) => `${p}:session:{${u}:${s}}`,
    sessionSubscriptions: (u, s) => `${p}:session:{${u}:${s}}:subs`,
    sessionGetStream: (u, s) => `${p}:session:{${u}:${s}}:get`,
    sessionEvents: (u, s) => `${p}:session:{${u}:${s}}:events`,
    userSessions: (u) => `${p}:user:${u}:sessions`,
    sessionInbound: (u, s) => `${p}:ch:in:{${u}:${s}}`,
    sessionOutbound: (u, s) => `${p}:ch:out:{${u}:${s}}`,
    reply: (i, r) => `${replies}${i}:${r}`,
    replyChannel: (i) => `${replies}${i}`,
    replyAddress: (name) => {
      if (!name.startsWith(replies)) return undefined;
      // Instance ids and relay ids contain no ':' (routing/instance.ts, routing/relay.ts).
      const colon = name.lastIndexOf(':');
      if (colon < replies.length) return undefined;
      return { channel: name.slice(0, colon), relayId: name.slice(colon + 1) };
    },
    instance: (i) => `${p}:instance:${i}`,
    serverEvents: () => `${p}:ch:server-events`,
    requestStateKeys: () => `${p}:mrtr:keys`,
    task: (u, t) => `${p}:task:{${u}.${t}}`,
    taskLease: (u, t) => `${p}:task:{${u}.${t}}:lease`,
    taskSignals: (i) => `${p}:ch:tasks:${i}`,
    oauth: (kind, id) => `${p}:oauth:${kind}:${id}`,
    oauthSigning: (name) => `${p}:oauth:{signing}:${name}`,
    rateLimit: (scope) => `${p}:ratelimit:${scope}:`,
  };
}
