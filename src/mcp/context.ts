/**
 * What a session's McpServer is given by whoever hosts it (the Redis routing layer, stdio, tests).
 * Everything session-scoped that must survive a takeover (log level, subscriptions) lives in
 * `state`; the server itself keeps nothing that replaying `initialize` would not rebuild.
 */
import type { Logger } from '../observability/logger.js';
import type { ResourceUpdateFeed } from './resourceUpdates.js';
import type { SessionState } from './sessionState.js';

export interface McpServerOptions {
  /**
   * Period of the demo `notifications/message` stream sent to the session (filtered by its
   * `logging/setLevel` level); 0 or unset = off.
   */
  logMessageIntervalMs?: number;
}

export interface McpSessionContext {
  /** Session id ('stdio' for the stdio transport). */
  sessionId: string;
  /** Verified user id owning the session. */
  userId: string;
  state: SessionState;
  log: Logger;
  /** Process-wide stream of "resource changed" events; the session notifies only for URIs it subscribed to. */
  resourceUpdates?: ResourceUpdateFeed;
  options?: McpServerOptions;
}
