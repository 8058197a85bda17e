/**
 * Test-only auth mode: fixed bearer tokens mapped to user ids, through the same bearer middleware
 * production uses. Never imported by shipping code.
 */
import { InvalidTokenError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import { bearerAuth } from '../auth/bearer.js';
import type { AuthModeSetup } from '../auth/types.js';

export function staticTokenAuth(tokens: Record<string, string>): AuthModeSetup {
  return {
    authenticate: bearerAuth({
      verifier: {
        async verifyAccessToken(token) {
          const userId = tokens[token];
          if (!userId) throw new InvalidTokenError('unknown test token');
          return { token, clientId: 'test-client', scopes: [], expiresAt: Math.floor(Date.now() / 1000) + 3600, extra: { userId } };
        },
      },
    }),
  };
}
