/**
 * The sign-in settings (LOGIN_PROVIDER and LOGIN_OIDC_*): the loopback rule, the loud warning,
 * and start-up validation with messages naming the variable.
 */
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { loadAuthServerConfig } from '../auth-server/config.js';
import { authorizationServerFromConfig } from './auth/server/fromConfig.js';
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './observability/logger.js';
import { createKeyspace } from './redis/keys.js';

const error = (env: Record<string, string>) => {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
};

describe('LOGIN_PROVIDER', () => {
  test('unset on loopback: dev, silently', () => {
    for (const HOST of ['127.0.0.1', 'localhost', '::1', '127.0.0.2']) {
      expect(loadConfig({ HOST })).toMatchObject({ loginProvider: 'dev', devLoginExposed: false });
    }
  });

  test('unset on any other address: start-up refused, naming LOGIN_PROVIDER', () => {
    for (const HOST of ['0.0.0.0', '192.0.2.10']) {
      expect(error({ HOST })).toMatch(/LOGIN_PROVIDER: required when HOST=.* is not a loopback address/);
    }
  });

  test('explicit dev on another address starts, flagged for the loud warning', () => {
    expect(loadConfig({ HOST: '0.0.0.0', LOGIN_PROVIDER: 'dev' })).toMatchObject({
      loginProvider: 'dev',
      devLoginExposed: true,
    });
  });

  test('separate and none modes serve no sign-in pages: no requirement', () => {
    expect(() => loadConfig({ HOST: '0.0.0.0', AUTH_MODE: 'none' })).not.toThrow();
    expect(() =>
      loadConfig({ HOST: '0.0.0.0', AUTH_MODE: 'separate', AUTH_SERVER_URL: 'https://as.example' }),
    ).not.toThrow();
  });

  test('auth-server applies the rule to AUTH_SERVER_HOST', () => {
    expect(() => loadAuthServerConfig({ AUTH_SERVER_HOST: '0.0.0.0' })).toThrow(
      /LOGIN_PROVIDER: required when AUTH_SERVER_HOST=0\.0\.0\.0/,
    );
    expect(loadAuthServerConfig({ AUTH_SERVER_HOST: '0.0.0.0', LOGIN_PROVIDER: 'dev' }).devLoginExposed).toBe(true);
  });
});

describe('LOGIN_OIDC_*', () => {
  const oidc = {
    HOST: '0.0.0.0',
    LOGIN_PROVIDER: 'oidc',
    LOGIN_OIDC_ISSUER: 'https://sso.example.com/realms/acme',
    LOGIN_OIDC_CLIENT_ID: 'mcp',
  };

  test('a complete setting; defaults for scopes and claim', () => {
    expect(loadConfig(oidc)).toMatchObject({
      loginProvider: 'oidc',
      LOGIN_OIDC_SCOPES: ['openid', 'email', 'profile'],
      LOGIN_OIDC_USER_CLAIM: 'sub',
      LOGIN_OIDC_TIMEOUT_MS: 5000,
    });
  });

  test.each([
    [{ LOGIN_OIDC_ISSUER: '' }, /LOGIN_OIDC_ISSUER: required when LOGIN_PROVIDER=oidc/],
    [{ LOGIN_OIDC_CLIENT_ID: '' }, /LOGIN_OIDC_CLIENT_ID: required when LOGIN_PROVIDER=oidc/],
    [{ LOGIN_OIDC_ISSUER: 'http://sso.example.com' }, /LOGIN_OIDC_ISSUER: must be https/],
    [{ LOGIN_OIDC_SCOPES: 'email profile' }, /LOGIN_OIDC_SCOPES: must include openid/],
    [
      { LOGIN_OIDC_ALLOWED_DOMAINS: 'example.com', LOGIN_OIDC_SCOPES: 'openid profile' },
      /LOGIN_OIDC_SCOPES: must include email/,
    ],
    [{ LOGIN_OIDC_ALLOWED_DOMAINS: 'not a domain' }, /LOGIN_OIDC_ALLOWED_DOMAINS/],
    [{ LOGIN_OIDC_TIMEOUT_MS: '5' }, /LOGIN_OIDC_TIMEOUT_MS/],
  ])('%j → refused, naming the variable', (over, message) => {
    expect(error({ ...oidc, ...over })).toMatch(message);
  });

  test('plain http is accepted for a provider on loopback (tests, local experiments)', () => {
    expect(loadConfig({ ...oidc, LOGIN_OIDC_ISSUER: 'http://127.0.0.1:8080' }).LOGIN_OIDC_ISSUER).toBe(
      'http://127.0.0.1:8080',
    );
  });
});

test('explicit dev on a public address logs a loud warning at start-up', async () => {
  const lines: string[] = [];
  const destination = new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) });
  const config = loadConfig({ HOST: '0.0.0.0', LOGIN_PROVIDER: 'dev' });
  const redis = new Redis(process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379', { lazyConnect: true });
  const as = authorizationServerFromConfig(config, {
    issuer: config.BASE_URI,
    resources: [config.mcpUrl],
    redis,
    keys: createKeyspace('unused'),
    log: createLogger('info', { destination }),
    serviceName: 'test',
    devLoginExposed: config.devLoginExposed,
  });
  await as.close();
  redis.disconnect();
  const warning = lines.map((l) => JSON.parse(l) as { level: number; msg: string }).find((l) => l.level === 40);
  expect(warning?.msg).toMatch(/ANYONE who reaches this server can sign in as ANY user id/);
});
