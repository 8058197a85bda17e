/**
 * One routing instance over a real Redis hosting the "everything" server, wired as src/server.ts
 * wires it (request-state seal on Redis keys, an in-memory event bus), without HTTP: for the mesh's
 * unit tests and the scratch heap measurements, which drive it with the mesh's own envelopes.
 */
import { InMemoryServerEventBus } from '@modelcontextprotocol/server';
import { createRequestStateSeal } from '../mcp/requestState.js';
import { createMcpServer } from '../mcp/server.js';
import type { Logger } from '../observability/logger.js';
import { connectRedis, type RedisConnections } from '../redis/connections.js';
import type { Keyspace } from '../redis/keys.js';
import type { RedisSettings } from '../redis/settings.js';
import { RoutingInstance, type RoutingOptions } from '../routing/instance.js';
import { RedisStateKeys } from '../routing/requestStateKeys.js';

export interface EverythingRouting {
  conns: RedisConnections;
  routing: RoutingInstance;
  /** The bus the servers raise and hear change events on. */
  events: InMemoryServerEventBus;
  /** Stops the instance and closes its connections. */
  stop: () => Promise<void>;
}

/** Started; `options` override the defaults (relay timeout 5 s, generous per-session and per-user bounds). */
export async function startEverythingRouting(
  settings: RedisSettings,
  keys: Keyspace,
  log: Logger,
  name: string,
  options: Partial<Omit<RoutingOptions, 'serverFactory'>> = {},
): Promise<EverythingRouting> {
  const conns = await connectRedis(settings, log, name);
  const events = new InMemoryServerEventBus();
  const requestState = createRequestStateSeal(
    new RedisStateKeys(conns.command, keys.requestStateKeys(), 3_600_000, 600_000),
    600,
  );
  const routing = new RoutingInstance(conns.command, conns.pubsub, keys, log, {
    serverFactory: ({ sessionId, userId, state, log: sessionLog }) =>
      createMcpServer({ userId, log: sessionLog, events, requestState, session: { id: sessionId, state } }),
    relayTimeoutMs: 5000,
    idleTtlMs: 600_000,
    maxSessionsPerUser: 100,
    maxInflightPerSession: 32,
    maxPendingClientRequests: 32,
    ...options,
  });
  await routing.start();
  return {
    conns,
    routing,
    events,
    stop: async () => {
      await routing.stop();
      await conns.close();
    },
  };
}
