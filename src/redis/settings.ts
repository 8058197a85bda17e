/**
 * Where Redis is and how to reach it, derived from the REDIS_* settings (src/config.ts validates
 * each variable; this module checks that they fit together and says which topology they describe).
 *
 *   - nothing set                  → `embedded`: the in-process stand-in (single instance only);
 *   - REDIS_URL                    → `single`: one Redis, as before;
 *   - REDIS_CLUSTER_NODES          → `cluster`: Redis Cluster, the list is the seed nodes;
 *   - REDIS_SENTINELS + _MASTER    → `sentinel`: the current master of a Sentinel-managed group.
 *
 * In cluster and Sentinel mode REDIS_URL is optional and supplies only what applies to every node:
 * the scheme (`rediss://` = TLS), the ACL user and password, and (Sentinel) the database number. Its
 * host and port are not used; the node lists say where Redis is.
 */
import { readFileSync } from 'node:fs';

export type RedisMode = 'embedded' | 'single' | 'cluster' | 'sentinel';

export interface RedisEndpoint {
  host: string;
  port: number;
}

export interface RedisSettings {
  mode: RedisMode;
  /** `single`: the server; `cluster`: the seed nodes; `sentinel`: the sentinels. Empty when embedded. */
  nodes: RedisEndpoint[];
  /** `sentinel`: the name of the monitored master group. */
  sentinelMaster?: string;
  /** ACL user (Redis 6+) and password, applied to every data node. */
  username?: string;
  password?: string;
  /** Sentinel's own credentials, when the sentinels require them. */
  sentinelUsername?: string;
  sentinelPassword?: string;
  db: number;
  /** Present = TLS (`rediss://`); `ca` is the PEM of a private CA (REDIS_TLS_CA_FILE). */
  tls?: { ca?: string };
}

/** The subset of the environment this module reads (parsed by the config schema). */
export interface RedisEnv {
  REDIS_URL?: string;
  REDIS_TLS_CA_FILE?: string;
  REDIS_CLUSTER_NODES?: RedisEndpoint[];
  REDIS_SENTINELS?: RedisEndpoint[];
  REDIS_SENTINEL_MASTER?: string;
  REDIS_SENTINEL_USERNAME?: string;
  REDIS_SENTINEL_PASSWORD?: string;
}

/** A combination of settings that cannot work; the message names the variables. */
export class RedisSettingsError extends Error {
  override name = 'RedisSettingsError';
}

/** `host:port`, as REDIS_CLUSTER_NODES and REDIS_SENTINELS list them (IPv6 in brackets). */
export function parseEndpoint(value: string): RedisEndpoint | undefined {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(value);
  if (!m) return undefined;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return undefined;
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

export function redisSettings(env: RedisEnv): RedisSettings {
  const cluster = env.REDIS_CLUSTER_NODES;
  const sentinels = env.REDIS_SENTINELS;
  if (cluster && sentinels) {
    throw new RedisSettingsError(
      'REDIS_CLUSTER_NODES, REDIS_SENTINELS: set one or the other (Redis Cluster or Sentinel), not both',
    );
  }
  if (sentinels && !env.REDIS_SENTINEL_MASTER) {
    throw new RedisSettingsError('REDIS_SENTINEL_MASTER: required with REDIS_SENTINELS (the name of the master group)');
  }
  if (!sentinels) {
    for (const v of ['REDIS_SENTINEL_MASTER', 'REDIS_SENTINEL_USERNAME', 'REDIS_SENTINEL_PASSWORD'] as const) {
      if (env[v]) throw new RedisSettingsError(`${v}: only meaningful with REDIS_SENTINELS`);
    }
  }

  const url = env.REDIS_URL === undefined ? undefined : parseRedisUrl(env.REDIS_URL);
  if (env.REDIS_TLS_CA_FILE && !url?.tls) {
    throw new RedisSettingsError(
      'REDIS_TLS_CA_FILE: needs a rediss:// REDIS_URL (TLS); with redis:// the CA would be ignored',
    );
  }
  const mode: RedisMode = cluster ? 'cluster' : sentinels ? 'sentinel' : url ? 'single' : 'embedded';
  if (mode === 'cluster' && url && url.db !== 0) {
    throw new RedisSettingsError(
      'REDIS_URL: Redis Cluster has database 0 only; remove the /<db> path when REDIS_CLUSTER_NODES is set',
    );
  }
  if (mode === 'embedded') return { mode, nodes: [], db: 0 };

  const settings: RedisSettings = {
    mode,
    nodes: cluster ?? sentinels ?? [url!.endpoint],
    db: url?.db ?? 0,
  };
  if (url?.username) settings.username = url.username;
  if (url?.password) settings.password = url.password;
  if (url?.tls) settings.tls = env.REDIS_TLS_CA_FILE ? { ca: readCa(env.REDIS_TLS_CA_FILE) } : {};
  if (mode === 'sentinel') {
    settings.sentinelMaster = env.REDIS_SENTINEL_MASTER!;
    if (env.REDIS_SENTINEL_USERNAME) settings.sentinelUsername = env.REDIS_SENTINEL_USERNAME;
    if (env.REDIS_SENTINEL_PASSWORD) settings.sentinelPassword = env.REDIS_SENTINEL_PASSWORD;
  }
  return settings;
}

interface ParsedUrl {
  endpoint: RedisEndpoint;
  tls: boolean;
  username?: string;
  password?: string;
  db: number;
}

function parseRedisUrl(value: string): ParsedUrl {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new RedisSettingsError(
      'REDIS_URL: not a URL (expected redis://[user:password@]host[:port][/db] or rediss://…)',
    );
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
    throw new RedisSettingsError(`REDIS_URL: scheme must be redis:// or rediss:// (TLS), not ${u.protocol}//`);
  }
  const path = u.pathname.replace(/^\//, '');
  if (path !== '' && !/^\d{1,2}$/.test(path))
    throw new RedisSettingsError('REDIS_URL: the path must be a database number (e.g. /0)');
  if (u.search !== '') {
    // ioredis would take query parameters as connection options; say so rather than ignore them.
    throw new RedisSettingsError(
      'REDIS_URL: query parameters are not supported; use the REDIS_* settings (docs/operations.md)',
    );
  }
  const parsed: ParsedUrl = {
    endpoint: { host: u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1', port: u.port === '' ? 6379 : Number(u.port) },
    tls: u.protocol === 'rediss:',
    db: path === '' ? 0 : Number(path),
  };
  // WHATWG URLs keep userinfo percent-encoded; a password may well contain '@' or ':'.
  if (u.username) parsed.username = decodeURIComponent(u.username);
  if (u.password) parsed.password = decodeURIComponent(u.password);
  return parsed;
}

function readCa(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new RedisSettingsError(
      `REDIS_TLS_CA_FILE: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
}

/** Where the settings point, for log lines and error messages: never credentials. */
export function describeRedis(s: RedisSettings): string {
  if (s.mode === 'embedded') return 'the embedded in-process Redis stand-in';
  const scheme = s.tls ? 'rediss' : 'redis';
  const list = s.nodes.map((n) => (n.host.includes(':') ? `[${n.host}]:${n.port}` : `${n.host}:${n.port}`)).join(',');
  if (s.mode === 'cluster') return `Redis Cluster at ${scheme}://${list}`;
  if (s.mode === 'sentinel') return `Redis master "${s.sentinelMaster}" via the sentinels ${scheme}://${list}`;
  return `Redis at ${scheme}://${list}${s.db === 0 ? '' : `/${s.db}`}`;
}
