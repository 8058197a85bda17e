/**
 * The per-user session cap (`MAX_SESSIONS_PER_USER`). Many clients (the MCP Inspector among them)
 * never send DELETE /mcp, so their abandoned sessions would hold the user's slots until the idle
 * TTL. At the cap, the user's least recently used *idle* session is ended to make room; a new
 * session is refused only when every one of the user's sessions is busy (see SessionHost.isBusy:
 * a request in flight, an open GET stream, or an HTTP+SSE session).
 *
 * Across instances: the slot itself is taken atomically in Redis (SessionStore.reserve), and a
 * victim is ended by its own host through the mesh, with the same command DELETE /mcp sends, made
 * conditional (`idle`): only the host knows whether a request is in flight. When two instances
 * evict at once, each retries the reservation after every attempt, so both end up with a slot and
 * no more sessions are ended than were needed (a victim already ended by the other is `gone`).
 */
import type { Logger } from '../observability/logger.js';
import type { SessionRef, SessionStore } from './sessionStore.js';

export type EvictionResult = 'deleted' | 'busy' | 'gone' | 'unavailable' | 'timeout';

export interface SessionCapDeps {
  store: SessionStore;
  max: number;
  /** Ends a session through the mesh if, and only if, its host finds it idle. */
  endIfIdle(ref: SessionRef): Promise<EvictionResult>;
  log: Logger;
  instanceId: string;
  /** Metrics hooks. */
  onEvicted?(): void;
  onRefused?(): void;
}

export class SessionCap {
  constructor(private readonly deps: SessionCapDeps) {}

  /** Takes a slot for the new session `ref`, evicting idle sessions of the same user as needed. */
  async admit(ref: SessionRef): Promise<boolean> {
    const { store, max } = this.deps;
    const tried = new Set<string>([ref.sessionId]);
    for (;;) {
      if (await store.reserve(ref, max, Date.now())) return true;
      // Least recently used first; each candidate is asked at most once per admission.
      const victim = (await store.listForUser(ref.u)).find((id) => !tried.has(id));
      if (victim === undefined) {
        this.deps.onRefused?.();
        return false;
      }
      tried.add(victim);
      const result = await this.deps.endIfIdle({ u: ref.u, sessionId: victim });
      if (result === 'deleted') {
        this.deps.onEvicted?.();
        this.deps.log.info(
          { session: victim, instance: this.deps.instanceId, max },
          'idle session ended: per-user session cap reached',
        );
      }
    }
  }
}
