/**
 * Picks the auth mode from config. `none` exists only for local experiments and says so loudly.
 */
import type { Redis } from 'ioredis';
import type { Config } from '../config.js';
import type { Logger } from '../observability/logger.js';
import type { Keyspace } from '../redis/keys.js';
import type { AuthModeSetup } from './types.js';

export interface AuthDeps {
  config: Config;
  redis: Redis;
  keys: Keyspace;
  log: Logger;
}

export const ANONYMOUS_USER = 'anonymous';

export function noAuth(log: Logger): AuthModeSetup {
  log.warn(
    'AUTH_MODE=none: /mcp accepts UNAUTHENTICATED traffic and every session belongs to one anonymous user. ' +
      'For local experiments only; never expose this server.',
  );
  return {
    authenticate: (req, _res, next) => {
      req.auth = { token: '', clientId: ANONYMOUS_USER, scopes: [], extra: { userId: ANONYMOUS_USER } };
      next();
    },
  };
}

export async function setupAuth(deps: AuthDeps): Promise<AuthModeSetup> {
  switch (deps.config.AUTH_MODE) {
    case 'none':
      return noAuth(deps.log);
    case 'integrated': {
      const { setupIntegratedAuth } = await import('./integrated.js');
      return setupIntegratedAuth(deps);
    }
    case 'separate': {
      // Loaded on demand: the resource-server strategies are not needed in the other modes.
      const { setupSeparateAuth } = await import('./separate/setup.js');
      return setupSeparateAuth({ config: deps.config, log: deps.log });
    }
  }
}
