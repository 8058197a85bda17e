/**
 * Finds the external AS's metadata from its issuer identifier: OpenID Connect Discovery 1.0 §4
 * first (what corporate IdPs publish), then RFC 8414 §3. The document's `issuer` must be the
 * issuer we were configured with (RFC 8414 §3.3, OIDC Discovery §4.3): otherwise an attacker who
 * controls one of the URLs could substitute another issuer's keys.
 */
import { z } from 'zod';
import type { AuthServerFetch } from './authServerFetch.js';
import { AuthServerUnavailableError } from './errors.js';

export const AuthorizationServerMetadataSchema = z
  .object({
    issuer: z.string().url(),
    jwks_uri: z.string().url().optional(),
    introspection_endpoint: z.string().url().optional(),
  })
  .passthrough();

export type AuthorizationServerMetadata = z.infer<typeof AuthorizationServerMetadataSchema>;

/** Candidate metadata URLs for an issuer, in the order we try them. */
export function metadataUrls(issuer: string): string[] {
  const u = new URL(issuer);
  const path = u.pathname.replace(/\/+$/, '');
  return [
    // OIDC Discovery §4: appended to the issuer, path included (Keycloak: /realms/<realm>/.well-known/…).
    `${u.origin}${path}/.well-known/openid-configuration`,
    // RFC 8414 §3.1: inserted between host and path.
    `${u.origin}/.well-known/oauth-authorization-server${path}`,
  ];
}

/** Issuers compare exactly, except that one trailing slash is not significant (Auth0 adds one). */
export function sameIssuer(a: string, b: string): boolean {
  return a.replace(/\/$/, '') === b.replace(/\/$/, '');
}

export async function discoverAuthorizationServer(
  issuer: string,
  fetchAs: AuthServerFetch,
): Promise<AuthorizationServerMetadata> {
  const problems: string[] = [];
  for (const url of metadataUrls(issuer)) {
    const res = await fetchAs(url, { headers: { accept: 'application/json' } });
    if (res.status !== 200) {
      await res.body?.cancel().catch(() => undefined);
      problems.push(`${url}: HTTP ${res.status}`);
      continue;
    }
    const parsed = AuthorizationServerMetadataSchema.safeParse(await res.json().catch(() => undefined));
    if (!parsed.success) {
      problems.push(`${url}: not an authorization server metadata document`);
      continue;
    }
    if (!sameIssuer(parsed.data.issuer, issuer)) {
      problems.push(`${url}: issuer ${parsed.data.issuer} does not match ${issuer}`);
      continue;
    }
    return parsed.data;
  }
  // Reachable but unusable: still not the client's fault, so still 503 rather than 401.
  throw new AuthServerUnavailableError(`no usable metadata for issuer ${issuer} (${problems.join('; ')})`, 30);
}

/**
 * Discovery done once and kept; concurrent first callers share one request, and a failure is not
 * cached (the next request retries, subject to the fetcher's circuit breaker).
 */
export function cachedDiscovery(issuer: string, fetchAs: AuthServerFetch): () => Promise<AuthorizationServerMetadata> {
  let result: AuthorizationServerMetadata | undefined;
  let pending: Promise<AuthorizationServerMetadata> | undefined;
  return async () => {
    if (result) return result;
    pending ??= discoverAuthorizationServer(issuer, fetchAs)
      .then((m) => (result = m))
      .finally(() => (pending = undefined));
    return pending;
  };
}
