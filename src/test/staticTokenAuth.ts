/**
 * Test-only auth mode: fixed bearer tokens mapped to user ids, through the same bearer middleware
 * production uses. Never imported by shipping code.
 */
import { bearerAuth } from '../auth/bearer.js';
import { invalidToken } from '../auth/oauthError.js';
import type { AuthModeSetup } from '../auth/types.js';

export function staticTokenAuth(tokens: Record<string, string>): AuthModeSetup {
  return {
    authenticate: bearerAuth({
      verifier: {
        async verifyAccessToken(token) {
          const userId = tokens[token];
          if (!userId) throw invalidToken('unknown test token');
          return {
            token,
            clientId: 'test-client',
            scopes: [],
            expiresAt: Math.floor(Date.now() / 1000) + 3600,
            extra: { userId },
          };
        },
      },
    }),
  };
}
