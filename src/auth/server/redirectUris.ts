/**
 * Redirect URI policy at registration (DCR and CIMD). MCP authorization (2025-11-25,
 * "Communication Security") and OAuth 2.1 §1.5/§2.3.1: every redirect URI is https, or http on a
 * loopback host (RFC 8252 §7.3, native apps). Matching at /authorize is exact, except that the
 * port of a loopback URI may vary (RFC 8252 §7.3); that rule is the SDK's `redirectUriMatches`.
 */
import { redirectUriMatches } from '@modelcontextprotocol/sdk/server/auth/handlers/authorize.js';

export { redirectUriMatches };

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

export function isLoopbackUrl(u: URL): boolean {
  return LOOPBACK_HOSTS.has(u.hostname);
}

/** Why a redirect URI may not be registered, or undefined when it may. */
export function redirectUriProblem(value: string): string | undefined {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    return 'is not an absolute URL';
  }
  // RFC 6749 §3.1.2: the redirection endpoint URI MUST NOT include a fragment.
  if (u.hash !== '' || value.includes('#')) return 'must not contain a fragment';
  if (u.username !== '' || u.password !== '') return 'must not contain credentials';
  if (u.protocol === 'https:') return undefined;
  if (u.protocol === 'http:' && isLoopbackUrl(u)) return undefined;
  return 'must use https, or http on a loopback host (localhost, 127.0.0.1, [::1])';
}

export function findMatchingRedirectUri(requested: string, registered: readonly string[]): boolean {
  return registered.some((r) => redirectUriMatches(requested, r));
}
