/**
 * The deployment the browser test points the Inspector at: two MCP instances (in this process, on
 * a real Redis under a random prefix) behind a loopback round-robin balancer, in integrated mode
 * (the instances are also the authorization server) or in separate mode (auth-server/ on its own,
 * behind its own balancer port, JWT validation). Access tokens live `accessTokenTtlSeconds`, so
 * the test can watch a refresh happen.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { loadAuthServerConfig } from '../../../auth-server/config.js';
import { startAuthServer, type RunningAuthServer } from '../../../auth-server/server.js';
import { createLogger } from '../../observability/logger.js';
import { REDIS_URL, redisSettingsFor, startTestInstance } from '../cluster.js';
import { removeKeysWithPrefix } from '../../redis/removePrefix.js';
import { createKeyspace, sessionOwnerKey } from '../../redis/keys.js';
import type { RunningServer } from '../../server.js';
import { SessionStore, type SessionMeta } from '../../routing/sessionStore.js';
import { startRoundRobinProxy, type RoundRobinProxy } from './roundRobinProxy.js';

export type AuthMode = 'integrated' | 'separate';

export interface BrowserStack {
  mode: AuthMode;
  /** The MCP endpoint as the Inspector sees it (the balancer). */
  mcpUrl: string;
  /** Where POST /revoke goes: the instances (integrated) or auth-server/ (separate). */
  revokeUrl: string;
  /** The balancer in front of the MCP instances; its log shows every request and status. */
  proxy: RoundRobinProxy;
  /** The balancer in front of auth-server/ (separate mode). */
  asProxy?: RoundRobinProxy;
  instances: RunningServer[];
  /** Live MCP sessions of a user, with their stored meta (host instance, …). */
  sessions(userId: string, clientId: string): Promise<Array<{ id: string; meta: SessionMeta }>>;
  /**
   * Stops the instance hosting `sessionId` the way a rolling restart does (graceful: its sessions'
   * state stays in Redis) and puts a freshly started instance behind the balancer in its place.
   * Returns the stopped instance's id.
   */
  restartHostOf(userId: string, clientId: string, sessionId: string): Promise<string>;
  close(): Promise<void>;
}

export async function startStack(mode: AuthMode, opts: { accessTokenTtlSeconds: number }): Promise<BrowserStack> {
  const prefix = `tb${randomBytes(5).toString('hex')}`;
  const logLevel = process.env['TEST_LOG_LEVEL'] ?? 'silent';
  const ttl = String(opts.accessTokenTtlSeconds);
  const proxy = await startRoundRobinProxy([]);
  let asProxy: RoundRobinProxy | undefined;
  let authServer: RunningAuthServer | undefined;
  const modeEnv: Record<string, string> = { OAUTH_ACCESS_TOKEN_TTL_SECONDS: ttl, OAUTH_RATE_LIMIT_RELAXED: 'true' };

  if (mode === 'separate') {
    asProxy = await startRoundRobinProxy([]);
    const cfg = loadAuthServerConfig({
      AUTH_SERVER_PORT: '0',
      AUTH_SERVER_HOST: '127.0.0.1',
      AUTH_SERVER_URL: asProxy.url,
      AUTH_SERVER_RESOURCES: `${proxy.url}/mcp`,
      AUTH_SERVER_REDIS_PREFIX: `${prefix}-auth`,
      REDIS_URL,
      OAUTH_SCOPES: 'mcp',
      OAUTH_ACCESS_TOKEN_TTL_SECONDS: ttl,
      OAUTH_RATE_LIMIT_RELAXED: 'true',
      SHUTDOWN_GRACE_MS: '500',
      LOG_LEVEL: logLevel,
    });
    authServer = await startAuthServer(cfg, createLogger(cfg.shared.LOG_LEVEL, { name: 'auth-server' }));
    asProxy.targets = [authServer.url];
    Object.assign(modeEnv, {
      AUTH_SERVER_URL: asProxy.url,
      REQUIRED_SCOPES: 'mcp',
      // Expiry is checked to the second: the refresh step waits for exactly the token's lifetime.
      JWT_CLOCK_SKEW_SECONDS: '0',
    });
  }

  const start = () =>
    startTestInstance({
      REDIS_URL,
      REDIS_PREFIX: prefix,
      BASE_URI: proxy.url,
      AUTH_MODE: mode,
      SHUTDOWN_GRACE_MS: '500',
      ...modeEnv,
    });
  const instances = [await start(), await start()];
  proxy.targets = instances.map((i) => i.url);

  const redis = new Redis(REDIS_URL);
  const keys = createKeyspace(prefix);
  const store = new SessionStore(redis, keys, 3600_000);

  // Sessions belong to a user AND the OAuth client that opened them (src/redis/keys.ts).
  const sessions = async (userId: string, clientId: string) => {
    const u = sessionOwnerKey(userId, clientId);
    const ids = await store.listForUser(u);
    const metas = await Promise.all(ids.map((id) => store.load({ u, sessionId: id })));
    return ids.flatMap((id, i) => (metas[i] ? [{ id, meta: metas[i] }] : []));
  };

  return {
    mode,
    mcpUrl: `${proxy.url}/mcp`,
    revokeUrl: `${asProxy?.url ?? proxy.url}/revoke`,
    proxy,
    asProxy,
    instances,
    sessions,
    async restartHostOf(userId, clientId, sessionId) {
      const meta = await store.load({ u: sessionOwnerKey(userId, clientId), sessionId });
      if (!meta) throw new Error(`session ${sessionId} is not in Redis`);
      const i = instances.findIndex((s) => s.routing.instanceId === meta.host);
      if (i < 0) throw new Error(`session ${sessionId} is hosted by unknown instance ${meta.host}`);
      await instances[i]!.stop();
      instances[i] = await start();
      proxy.targets = instances.map((s) => s.url);
      return meta.host;
    },
    async close() {
      await Promise.allSettled(instances.map((s) => s.stop()));
      await authServer?.close();
      await Promise.allSettled([proxy.close(), asProxy?.close()]);
      redis.disconnect();
      await removeKeysWithPrefix(redisSettingsFor({ REDIS_URL }), prefix);
      if (mode === 'separate') await removeKeysWithPrefix(redisSettingsFor({ REDIS_URL }), `${prefix}-auth`);
    },
  };
}
