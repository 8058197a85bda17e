/**
 * What the "everything" server is built from. One factory (server.ts) builds it for both protocol
 * eras:
 *   - a 2025-11-25 session (the Redis mesh's session host, stdio, tests): `session` is set, and
 *     everything session-scoped that must survive a takeover (log level, subscriptions) lives in
 *     `session.state`, never in the server object, which replaying `initialize` rebuilds;
 *   - one 2026-07-28 request (per-request serving): no `session`; the request carries its own log
 *     level and client capabilities in `_meta`, change notifications travel on
 *     `subscriptions/listen` streams instead of the session, and `tasks` offers the tasks
 *     extension.
 * `events` and `requestState` are process-wide and shared by both eras.
 */
import type { ServerEventBus } from '@modelcontextprotocol/server';
import type { Logger } from '../observability/logger.js';
import type { RequestStateSeal } from './requestState.js';
import type { SessionState } from './sessionState.js';
import type { TaskServices } from './tasks/handlers.js';

export interface McpSession {
  /** Session id ('stdio' for the stdio transport). */
  id: string;
  state: SessionState;
  /**
   * Period of the demo `notifications/message` stream sent to the session (filtered by its
   * `logging/setLevel` level); 0 or unset = off.
   */
  logMessageIntervalMs?: number;
}

export interface McpServerContext {
  /**
   * Verified user id of the session's owner. Absent on a server built for 2026-07-28 requests:
   * such a server may answer several callers one after another, and reads each one's identity
   * from the request (`ctx.http.authInfo`), never from here.
   */
  userId?: string;
  log: Logger;
  /**
   * Change events (resource updated, list changed), fanned out to every instance in the HTTP
   * deployment: sessions forward them to their clients, `subscriptions/listen` streams deliver
   * them, and tools that change something publish here.
   */
  events: ServerEventBus;
  /** Seals and verifies multi-round-trip `requestState`. */
  requestState: RequestStateSeal;
  /** The 2025-11-25 session this server serves; absent when it serves one 2026-07-28 request. */
  session?: McpSession;
  /** The tasks extension; offered to 2026-07-28 requests only. */
  tasks?: TaskServices;
}
