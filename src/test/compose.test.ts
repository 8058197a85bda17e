/**
 * Docker is not available where these tests run, so docker-compose.yml, the nginx config and the
 * .env.* files are checked statically against the real code: every service's environment goes
 * through the real config schemas (loadConfig, loadAuthServerConfig), every command names a real
 * npm script whose entry file exists, nginx balances over services that exist in each profile.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseEnv } from 'node:util';
import { parse } from 'yaml';
import { z } from 'zod';
import { loadAuthServerConfig } from '../../auth-server/config.js';
import { loadConfig } from '../config.js';

const ROOT = join(import.meta.dirname, '..', '..');
const read = (p: string) => readFileSync(join(ROOT, p), 'utf8');

const ServiceSchema = z.object({
  image: z.string().optional(),
  build: z.object({ context: z.string(), dockerfile: z.string() }).optional(),
  command: z.array(z.string()).optional(),
  profiles: z.array(z.string()).optional(),
  environment: z.record(z.string(), z.string()).optional(),
  volumes: z.array(z.string()).optional(),
  networks: z.object({ default: z.object({ aliases: z.array(z.string()) }) }).optional(),
  depends_on: z.record(z.string(), z.object({ condition: z.string() })).optional(),
});
const compose = z
  .object({ services: z.record(z.string(), ServiceSchema) })
  .parse(parse(read('docker-compose.yml'), { merge: true }));
const services = Object.entries(compose.services);
const scripts = z.object({ scripts: z.record(z.string(), z.string()) }).parse(JSON.parse(read('package.json'))).scripts;

const PROFILES = ['integrated', 'separate'] as const;
const inProfile = (profile: string) => services.filter(([, s]) => !s.profiles || s.profiles.includes(profile));
const isMcp = (s: z.infer<typeof ServiceSchema>) => s.command?.join(' ') === 'npm run start:built';
const isAuthServer = (s: z.infer<typeof ServiceSchema>) => s.command?.join(' ') === 'npm run start:auth-server:built';

/** The npm script a compose command runs. */
function scriptOf(command: string[]): string {
  if (command[0] !== 'npm') throw new Error(`not an npm command: ${command.join(' ')}`);
  return command[1] === 'run' ? command[2]! : command[1]!;
}

/**
 * Source files an npm script executes (`tsx <file>`, `--import tsx <file>`, `--env-file=<file>`;
 * for `node dist/<file>.js`, the TypeScript file the build compiles it from).
 */
function filesOf(script: string): string[] {
  const files = [...script.matchAll(/(?:^|\s)((?:src|auth-server)\/[\w/.-]+\.ts)/g)].map((m) => m[1]!);
  const built = [...script.matchAll(/(?:^|\s)dist\/((?:src|auth-server)\/[\w/.-]+)\.js/g)].map((m) => `${m[1]!}.ts`);
  const envFiles = [...script.matchAll(/--env-file=(\S+)/g)].map((m) => m[1]!);
  return [...files, ...built, ...envFiles];
}

describe('docker-compose.yml', () => {
  test('every service command is a real npm script whose files exist', () => {
    for (const [name, s] of services) {
      if (!s.command || s.image?.startsWith('redis') || s.image?.startsWith('nginx')) continue;
      const script = scripts[scriptOf(s.command)];
      expect({ name, script }).toEqual({ name, script: expect.any(String) });
      for (const f of filesOf(script!))
        expect({ name, f, exists: existsSync(join(ROOT, f)) }).toEqual({ name, f, exists: true });
    }
  });

  test('images are built from docs/deploy/Dockerfile, which copies both entry points', () => {
    const built = services.filter(([, s]) => s.build);
    expect(built.length).toBeGreaterThanOrEqual(5);
    for (const [, s] of built) expect(s.build).toEqual({ context: '.', dockerfile: 'docs/deploy/Dockerfile' });
    const dockerfile = read('docs/deploy/Dockerfile');
    expect(dockerfile).toMatch(/COPY src \.\/src/);
    expect(dockerfile).toMatch(/COPY auth-server \.\/auth-server/);
    // The services run the compiled build (`start:built`), so the image must build it.
    expect(dockerfile).toMatch(/RUN npm run build/);
    expect(dockerfile).toMatch(/COPY tsconfig\.json tsconfig\.build\.json/);
  });

  test.each(PROFILES)(
    'profile %s: two MCP instances whose environment passes loadConfig, in that auth mode',
    (profile) => {
      const mcp = inProfile(profile).filter(([, s]) => isMcp(s));
      expect(
        mcp
          .map(([, s]) => s.networks?.default.aliases)
          .flat()
          .sort(),
      ).toEqual(['mcp-1', 'mcp-2']);
      const configs = mcp.map(([, s]) => loadConfig(s.environment));
      for (const c of configs) {
        expect(c.AUTH_MODE).toBe(profile);
        expect(c.REDIS_URL).toBe('redis://redis:6379');
        expect(c.TRUST_PROXY_HOPS).toBe(1);
        expect(c.HOST).toBe('0.0.0.0');
      }
      // Both instances must look like one server to clients (same resource URL, issuer, Redis namespace).
      expect(new Set(configs.map((c) => `${c.mcpUrl} ${c.REDIS_PREFIX} ${c.AUTH_SERVER_URL}`)).size).toBe(1);
    },
  );

  test('separate profile: the MCP instances point at the auth server, which issues tokens for them', () => {
    const [authEntry, ...more] = inProfile('separate').filter(([, s]) => isAuthServer(s));
    expect(more).toEqual([]);
    const [authName, auth] = authEntry!;
    const as = loadAuthServerConfig(auth.environment);
    expect(as.shared.REDIS_URL).toBe('redis://redis:6379');
    const introspectionClients = as.shared.OAUTH_INTROSPECTION_CLIENTS ?? [];
    for (const [, s] of inProfile('separate').filter(([, s]) => isMcp(s))) {
      const c = loadConfig(s.environment);
      expect(c.AUTH_SERVER_URL).toBe(as.issuer);
      expect(as.resources).toContain(c.mcpUrl);
      expect(new URL(c.AUTH_SERVER_INTERNAL_URL!).host).toBe(`${authName}:${as.port}`);
      expect(c.REDIS_PREFIX).not.toBe(as.redisPrefix);
      expect(introspectionClients).toContain(`${c.INTROSPECTION_CLIENT_ID}:${c.INTROSPECTION_CLIENT_SECRET}`);
      expect(Object.keys(s.depends_on ?? {})).toContain(authName);
    }
    expect(inProfile('integrated').some(([, s]) => isAuthServer(s))).toBe(false);
  });

  test('nginx: round-robin over the MCP aliases on their real port, SSE-friendly, no affinity', () => {
    const [, nginx] = services.find(([, s]) => s.image?.startsWith('nginx'))!;
    expect(nginx.profiles?.sort()).toEqual([...PROFILES].sort());
    const mount = nginx.volumes!.find((v) => v.endsWith(':/etc/nginx/nginx.conf:ro'))!;
    const confPath = mount.split(':')[0]!.replace(/^\.\//, '');
    expect(confPath).toBe('docs/deploy/nginx.conf');
    const conf = read(confPath);
    const upstream = /upstream\s+(\w+)\s*{([^}]*)}/.exec(conf);
    expect(upstream).not.toBeNull();
    const servers = [...upstream![2]!.matchAll(/^\s*server\s+([\w.-]+):(\d+)/gm)].map((m) => [m[1], Number(m[2])]);
    for (const profile of PROFILES) {
      const mcp = inProfile(profile).filter(([, s]) => isMcp(s));
      const targets = mcp.flatMap(([, s]) =>
        s.networks!.default.aliases.map((a) => [a, loadConfig(s.environment).PORT]),
      );
      expect(servers.sort()).toEqual(targets.sort());
    }
    expect(conf).toContain(`proxy_pass http://${upstream![1]};`);
    for (const line of ['proxy_buffering off;', 'proxy_http_version 1.1;', 'proxy_set_header Connection "";']) {
      expect(conf).toContain(line);
    }
    const readTimeout = /proxy_read_timeout\s+(\d+)([smh]?);/.exec(conf)!;
    const seconds =
      Number(readTimeout[1]) * ({ s: 1, m: 60, h: 3600, '': 1 } as Record<string, number>)[readTimeout[2]!]!;
    expect(seconds).toBeGreaterThanOrEqual(300);
    expect(conf).not.toMatch(/^\s*(ip_hash|hash|sticky)\b/m);
  });

  test('nginx passes WebSocket upgrades on /ws through, with a read timeout beyond the ping interval', () => {
    const conf = read('docs/deploy/nginx.conf');
    const ws = /location\s+=\s+\/ws\s*{([^}]*)}/.exec(conf)?.[1];
    expect(ws).toBeDefined();
    for (const line of [
      'proxy_http_version 1.1;',
      'proxy_set_header Upgrade $http_upgrade;',
      'proxy_set_header Connection "upgrade";',
    ]) {
      expect(ws).toContain(line);
    }
    const readTimeout = /proxy_read_timeout\s+(\d+)([smh]?);/.exec(ws!)!;
    const seconds =
      Number(readTimeout[1]) * ({ s: 1, m: 60, h: 3600, '': 1 } as Record<string, number>)[readTimeout[2]!]!;
    expect(seconds * 1000).toBeGreaterThan(loadConfig({}).WEBSOCKET_PING_INTERVAL_MS);
  });
});

describe('.env files and dev scripts', () => {
  const envFile = (f: string) => parseEnv(read(f)) as NodeJS.ProcessEnv;

  test('.env.integrated passes loadConfig in integrated mode', () => {
    expect(loadConfig(envFile('.env.integrated')).AUTH_MODE).toBe('integrated');
  });

  test('.env.separate drives both processes consistently', () => {
    const env = envFile('.env.separate');
    const mcp = loadConfig(env);
    const as = loadAuthServerConfig(env);
    expect(mcp.AUTH_MODE).toBe('separate');
    expect(mcp.AUTH_SERVER_URL).toBe(as.issuer);
    expect(as.resources).toContain(mcp.mcpUrl);
    expect(as.port).toBe(3001);
    expect(mcp.PORT).toBe(3232);
    expect(as.shared.OAUTH_INTROSPECTION_CLIENTS).toContain(
      `${mcp.INTROSPECTION_CLIENT_ID}:${mcp.INTROSPECTION_CLIENT_SECRET}`,
    );
  });

  test('the dev scripts exist and reference real files', () => {
    for (const name of [
      'start:auth-server',
      'dev:auth-server',
      'dev:separate',
      'dev:integrated',
      'dev:with-separate-auth',
    ]) {
      expect({ name, script: scripts[name] }).toEqual({ name, script: expect.any(String) });
      for (const f of filesOf(scripts[name]!))
        expect({ name, f, exists: existsSync(join(ROOT, f)) }).toEqual({ name, f, exists: true });
    }
    // One command for both, and Ctrl-C (or either dying) stops both.
    const both = scripts['dev:with-separate-auth']!;
    expect(both).toMatch(/^concurrently --kill-others /);
    expect(both).toContain('npm:dev:auth-server');
    expect(both).toContain('npm:dev:separate');
  });
});
