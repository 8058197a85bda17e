/**
 * The one door through which the resource server talks to the external authorization server
 * (metadata, JWKS, introspection). It adds a timeout to every call, rewrites public endpoint URLs
 * onto an internal base when configured, and trips a small circuit breaker: after a network error,
 * timeout, 429 or 5xx, calls fail fast with AuthServerUnavailableError until the retry window has
 * passed. Without the breaker, every /mcp request during an outage would open its own connection
 * to the AS: at the request rates of a busy instance, a self-inflicted DoS on the AS as it tries
 * to come back.
 */
import { AuthServerUnavailableError } from './errors.js';

export type Fetch = typeof globalThis.fetch;

export interface AuthServerFetchOptions {
  /** Public issuer URL; endpoint URLs under it are rewritten onto `internalBaseUrl`. */
  issuer: string;
  internalBaseUrl?: string;
  timeoutMs: number;
  retryAfterSeconds: number;
  fetch?: Fetch;
  now?: () => number;
  /** Told each time the breaker opens (for a warn log; once per window, not per request). */
  onTrip?: (reason: string, cause?: unknown) => void;
}

export interface AuthServerFetch {
  /** Like fetch; resolves for any HTTP status < 500 except 429, throws AuthServerUnavailableError otherwise. */
  (url: string | URL, init?: RequestInit): Promise<Response>;
  /** Map a URL published by the AS onto the address this server actually uses. */
  resolve(url: string): string;
  /** True while failing fast. */
  readonly open: boolean;
}

export function createAuthServerFetch(opts: AuthServerFetchOptions): AuthServerFetch {
  const doFetch = opts.fetch ?? globalThis.fetch;
  const now = opts.now ?? Date.now;
  const windowMs = opts.retryAfterSeconds * 1000;
  let openUntil = 0;

  const resolve = (u: string): string => {
    if (!opts.internalBaseUrl) return u;
    const issuerOrigin = new URL(opts.issuer).origin;
    const target = new URL(u);
    if (target.origin !== issuerOrigin) return u;
    const internal = new URL(opts.internalBaseUrl);
    target.protocol = internal.protocol;
    target.host = internal.host;
    return target.toString();
  };

  const retryAfter = () => Math.max(1, Math.ceil((openUntil - now()) / 1000));

  const trip = (why: string, cause?: unknown): never => {
    openUntil = now() + windowMs;
    opts.onTrip?.(why, cause);
    throw new AuthServerUnavailableError(`authorization server unavailable: ${why}`, retryAfter(), { cause });
  };

  const call = async (url: string | URL, init: RequestInit = {}): Promise<Response> => {
    if (now() < openUntil) {
      throw new AuthServerUnavailableError('authorization server unavailable (recent failure)', retryAfter());
    }
    const timeout = AbortSignal.timeout(opts.timeoutMs);
    // jose passes its own timeout signal; honour whichever fires first.
    const signal = init.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
    let res: Response;
    try {
      // redirect: 'manual' — an AS endpoint that redirects is misconfigured, and following it
      // would let a compromised metadata document point us anywhere.
      res = await doFetch(resolve(String(url)), { ...init, signal, redirect: 'manual' });
    } catch (err) {
      const name = (err as Error | undefined)?.name;
      return trip(name === 'TimeoutError' || name === 'AbortError' ? 'timeout' : 'unreachable', err);
    }
    if (res.status >= 500 || res.status === 429) {
      await res.body?.cancel().catch(() => undefined);
      return trip(`HTTP ${res.status}`);
    }
    return res;
  };

  return Object.defineProperties(call, {
    resolve: { value: resolve },
    open: { get: () => now() < openUntil },
  }) as AuthServerFetch;
}
