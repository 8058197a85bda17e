/**
 * Which failures mean "Redis is unreachable right now" (a lost connection, a failover in progress,
 * a cluster without a master for some slot): a retry shortly after may well succeed, so an HTTP
 * request that failed on one is answered 503 with Retry-After rather than 500. ioredis gives most
 * of these no type of their own; this is the one place that knows their shapes.
 */

/**
 * Redis replies that mean the node cannot serve the command now (cluster and replication states),
 * also when a script's call got them (`ERR Error running script … -READONLY …`).
 */
const TRANSIENT_REPLIES = /(^|-)(CLUSTERDOWN|TRYAGAIN|LOADING|MASTERDOWN|READONLY)\b/;
/** ioredis's own errors for a connection or cluster that is not usable at the moment. */
const CLIENT_STATES =
  /^(Connection is closed\.|Cluster isn't ready|None of startup nodes is available|Too many Cluster redirections|Cluster is ended)/;
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTCONN']);

export function isRedisUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.name === 'MaxRetriesPerRequestError' || err.name === 'ClusterAllFailedError') return true;
  if (err.name === 'ReplyError') return TRANSIENT_REPLIES.test(err.message);
  const code = (err as NodeJS.ErrnoException).code;
  return CLIENT_STATES.test(err.message) || (code !== undefined && SOCKET_CODES.has(code));
}
