/**
 * Per-session protocol state that must outlive the process hosting the session (log level and
 * resource subscriptions). The HTTP deployment keeps it in Redis next to the session
 * (src/routing/redisSessionState.ts); stdio keeps it in memory.
 */
import type { LoggingLevel } from '@modelcontextprotocol/server';

export interface SessionState {
  /** The level set by `logging/setLevel`, or undefined when the client never set one. */
  getLogLevel(): LoggingLevel | undefined;
  setLogLevel(level: LoggingLevel): Promise<void>;
  subscriptions(): Promise<string[]>;
  subscribe(uri: string): Promise<void>;
  unsubscribe(uri: string): Promise<void>;
}

export class InMemorySessionState implements SessionState {
  private level: LoggingLevel | undefined;
  private readonly subs = new Set<string>();
  constructor(initial?: { logLevel?: LoggingLevel; subscriptions?: string[] }) {
    this.level = initial?.logLevel;
    for (const s of initial?.subscriptions ?? []) this.subs.add(s);
  }
  getLogLevel() {
    return this.level;
  }
  async setLogLevel(level: LoggingLevel) {
    this.level = level;
  }
  async subscriptions() {
    return [...this.subs];
  }
  async subscribe(uri: string) {
    this.subs.add(uri);
  }
  async unsubscribe(uri: string) {
    this.subs.delete(uri);
  }
}
