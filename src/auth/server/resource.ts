/**
 * RFC 8707 resource indicators. The MCP spec (2025-11-25, "Resource Parameter Implementation")
 * has clients send the canonical server URI; servers SHOULD accept case variations of scheme and
 * host, which URL parsing normalizes. Fragments are forbidden (RFC 8707 §2); one trailing slash is
 * tolerated because clients differ on it.
 */
export function canonicalResource(value: string | URL): string | undefined {
  let u: URL;
  try {
    u = new URL(String(value));
  } catch {
    return undefined;
  }
  if (u.hash !== '' || String(value).includes('#')) return undefined;
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return undefined;
  const s = u.href;
  return u.pathname !== '/' && s.endsWith('/') && u.search === '' ? s.slice(0, -1) : s;
}

/**
 * The configured resource that `requested` names, or undefined when it names none of them
 * (the caller answers `invalid_target`, RFC 8707 §2).
 */
export function matchResource(requested: string | URL, accepted: readonly string[]): string | undefined {
  const c = canonicalResource(requested);
  if (c === undefined) return undefined;
  return accepted.find((a) => canonicalResource(a) === c);
}
