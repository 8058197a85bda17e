/**
 * Settings of the standalone authorization server. Its own few (AUTH_SERVER_*) are parsed here;
 * everything it shares with the MCP server — OAUTH_* lifetimes and scopes, introspection clients,
 * REDIS_URL, LOG_LEVEL, TRUST_PROXY_HOPS — goes through the MCP server's own schema
 * (src/config.ts), so each setting has one definition and one meaning. The prefix keeps both
 * processes happy with one env file (.env.separate): PORT/HOST stay the MCP server's.
 */
import { z } from 'zod';
import { csv, loadConfig, parseEnv, resolveLoginProvider, type Config } from '../src/config.js';

const AuthServerEnvSchema = z.object({
  AUTH_SERVER_PORT: z.coerce.number().int().min(0).max(65535).default(3001),
  AUTH_SERVER_HOST: z.string().min(1).default('127.0.0.1'),
  /**
   * Issuer identifier = public base URL of this server (what browsers and MCP clients see). The MCP
   * server's AUTH_SERVER_URL must be the same string.
   */
  AUTH_SERVER_URL: z.string().url().optional(),
  /**
   * RFC 8707 resources (MCP endpoint URLs) this server issues tokens for. Default: the MCP
   * server's BASE_URI + /mcp from the same env file.
   */
  AUTH_SERVER_RESOURCES: csv.pipe(z.array(z.string().url()).min(1)).optional(),
  /** Redis namespace of the authorization server's state, apart from the MCP server's. */
  AUTH_SERVER_REDIS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+$/)
    .default('mcp-auth'),
});

export interface AuthServerConfig {
  port: number;
  host: string;
  issuer: string;
  resources: string[];
  redisPrefix: string;
  /** The dev sign-in page is reachable beyond this machine (explicit LOGIN_PROVIDER=dev on a public address). */
  devLoginExposed: boolean;
  /** The shared settings, parsed by the MCP server's schema. */
  shared: Config;
}

export function loadAuthServerConfig(env: NodeJS.ProcessEnv = process.env): AuthServerConfig {
  const e = parseEnv(AuthServerEnvSchema, env);
  const sharedBase = loadConfig(env);
  // The sign-in pages are served here, so the loopback rule applies to this server's own address.
  const login = resolveLoginProvider(sharedBase, e.AUTH_SERVER_HOST, 'AUTH_SERVER_HOST');
  const shared: Config = { ...sharedBase, ...login };
  const issuer = (e.AUTH_SERVER_URL ?? `http://localhost:${e.AUTH_SERVER_PORT}`).replace(/\/+$/, '');
  return {
    port: e.AUTH_SERVER_PORT,
    host: e.AUTH_SERVER_HOST,
    issuer,
    resources: e.AUTH_SERVER_RESOURCES ?? [shared.mcpUrl],
    redisPrefix: e.AUTH_SERVER_REDIS_PREFIX,
    devLoginExposed: login.devLoginExposed,
    shared,
  };
}
