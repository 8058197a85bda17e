/**
 * SessionState backed by the session's keys in Redis, so a log level or a subscription set on one
 * host survives a takeover by another instance.
 */
import type { LoggingLevel } from '@modelcontextprotocol/server';
import type { Redis } from 'ioredis';
import type { SessionState } from '../mcp/sessionState.js';
import type { Keyspace } from '../redis/keys.js';
import type { SessionRef, SessionStore } from './sessionStore.js';

export class RedisSessionState implements SessionState {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keyspace,
    private readonly store: SessionStore,
    private readonly ref: SessionRef,
    private level: LoggingLevel | undefined,
  ) {}

  getLogLevel(): LoggingLevel | undefined {
    return this.level;
  }

  async setLogLevel(level: LoggingLevel): Promise<void> {
    this.level = level;
    await this.store.setFields(this.ref, { level });
  }

  async subscriptions(): Promise<string[]> {
    return this.redis.smembers(this.subsKey);
  }

  async subscribe(uri: string): Promise<void> {
    await this.redis.multi().sadd(this.subsKey, uri).pexpire(this.subsKey, this.store.ttl).exec();
  }

  async unsubscribe(uri: string): Promise<void> {
    await this.redis.srem(this.subsKey, uri);
  }

  private get subsKey(): string {
    return this.keys.sessionSubscriptions(this.ref.u, this.ref.sessionId);
  }
}
