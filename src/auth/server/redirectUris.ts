/**
 * Redirect URI policy at registration (DCR and CIMD) and matching at /authorize and /token. MCP
 * authorization (2025-11-25, "Communication Security") and OAuth 2.1 §1.5/§2.3.1: every redirect
 * URI is https, or http on a loopback host (RFC 8252 §7.3, native apps). Matching is exact (OAuth
 * 2.1 §4.1.1), except that the port of a loopback URI may vary (RFC 8252 §7.3).
 */
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

/**
 * Exact string match; for two loopback URIs the port alone may differ (a native app picks a free
 * port at run time). Scheme, host (no localhost ↔ 127.0.0.1 crossing), path and query still match.
 */
export function redirectUriMatches(requested: string, registered: string): boolean {
  if (requested === registered) return true;
  let req: URL;
  let reg: URL;
  try {
    req = new URL(requested);
    reg = new URL(registered);
  } catch {
    return false;
  }
  if (!isLoopbackUrl(req) || !isLoopbackUrl(reg)) return false;
  return (
    req.protocol === reg.protocol &&
    req.hostname === reg.hostname &&
    req.pathname === reg.pathname &&
    req.search === reg.search &&
    req.hash === '' &&
    req.username === '' &&
    req.password === ''
  );
}

export function findMatchingRedirectUri(requested: string, registered: readonly string[]): boolean {
  return registered.some((r) => redirectUriMatches(requested, r));
}
