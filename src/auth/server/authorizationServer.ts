/**
 * The OAuth 2.1 authorization server, as a factory: integrated mode mounts `router` at the MCP
 * server's root; auth-server/ serves it alone. Everything it knows lives in Redis under the given
 * keyspace, so any instance can serve any step of any flow.
 *
 * Routes, in mounting order (docs/oauth.md has the flow):
 *   GET  /.well-known/oauth-authorization-server   RFC 8414 metadata (CORS)
 *   GET  /.well-known/jwks.json                     signing keys, the next one published ahead (CORS)
 *   GET|POST /authorize                             starts a flow → /oauth/login
 *   LOGIN_PROVIDER=dev:  GET|POST /oauth/login      the test sign-in page (pick a user id)
 *   LOGIN_PROVIDER=oidc: GET /oauth/login → the upstream provider → GET /oauth/callback
 *   GET|POST /oauth/consent                         consent (HTML, form posts)
 *   POST /token                                     code and refresh grants (CORS)
 *   POST /register                                  RFC 7591, bounded (CORS)
 *   POST /revoke                                    RFC 7009 (CORS)
 *   POST /introspect                                RFC 7662, resource servers only
 *   (error handler)                                 whatever escaped: OAuth JSON or the error page
 * Nothing here comes from the SDK: v2 dropped the authorization-server helpers (only the frozen,
 * deprecated `@modelcontextprotocol/server-legacy` keeps them).
 */
import cors from 'cors';
import express, { type Router } from 'express';
import type { OAuthTokenVerifier } from '../types.js';
import { AccessTokens, createAccessTokenVerifier } from './accessTokens.js';
import { allowedMethods } from './allowedMethods.js';
import { ClientMetadataDocuments } from './cimd/clientMetadataDocuments.js';
import { createGuardedClientMetadataFetcher } from './cimd/fetchClientMetadata.js';
import { oauthErrorHandler } from './errors.js';
import { authorizeHandler } from './handlers/authorize.js';
import { consentPageHandler, consentSubmitHandler } from './handlers/consent.js';
import { introspectHandler } from './handlers/introspect.js';
import { loginPageHandler, loginSubmitHandler } from './handlers/login.js';
import { registerHandler } from './handlers/register.js';
import { revokeHandler } from './handlers/revoke.js';
import { tokenHandler } from './handlers/token.js';
import { upstreamCallbackHandler, upstreamLoginHandler } from './handlers/upstreamLogin.js';
import { OidcUpstream } from './login/oidcUpstream.js';
import { UpstreamSignIns } from './login/upstreamSignIns.js';
import { ENDPOINTS, authorizationServerMetadata, metadataRouter } from './metadata.js';
import { DEFAULT_LIFETIMES, checkLifetimes, type AuthorizationServerOptions, type Lifetimes } from './options.js';
import { rateLimiter, type RateLimitDeps } from './rateLimits.js';
import { canonicalResource } from './resource.js';
import { SigningKeys } from './signingKeys.js';
import { ClientStore } from './stores/clients.js';
import { FlowStore } from './stores/flows.js';
import { GrantStore } from './stores/grants.js';

/** Live dynamic registrations per client address when the deployment does not say. */
export const DEFAULT_MAX_CLIENTS_PER_ADDRESS = 200;

export interface AuthorizationServer {
  router: Router;
  /** Verifies access tokens issued for any of `resources` (local JWT check + revocation). */
  verifier: OAuthTokenVerifier;
  /** A verifier that accepts only tokens whose audience is one of `audiences`. */
  verifierFor(audiences: readonly string[]): OAuthTokenVerifier;
  metadata: ReturnType<typeof authorizationServerMetadata>;
  /** Exposed for tests and tooling; not part of the HTTP surface. */
  internals: { tokens: AccessTokens; grants: GrantStore; clients: ClientStore; signingKeys: SigningKeys };
  close(): Promise<void>;
}

export class InvalidIssuerError extends Error {
  override name = 'InvalidIssuerError';
}

/**
 * RFC 8414 §2: https, no query or fragment; and no path, because the SDK client looks for metadata
 * at the root form.
 */
function checkIssuer(issuer: string): string {
  let u: URL;
  try {
    u = new URL(issuer);
  } catch {
    throw new InvalidIssuerError(`issuer ${issuer} is not a URL`);
  }
  if (u.search || u.hash || issuer.includes('#'))
    throw new InvalidIssuerError('issuer must not have a query or fragment');
  if (u.pathname !== '/') throw new InvalidIssuerError('issuer must not have a path');
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new InvalidIssuerError('issuer must be an http(s) URL');
  return u.origin;
}

export function createAuthorizationServer(opts: AuthorizationServerOptions): AuthorizationServer {
  const issuer = checkIssuer(opts.issuer);
  if (new URL(issuer).protocol === 'http:' && !['localhost', '127.0.0.1', '[::1]'].includes(new URL(issuer).hostname)) {
    opts.log.warn(
      { issuer },
      'authorization server issuer is plain http on a non-loopback host; use https outside development',
    );
  }
  const resources = opts.resources.map((r) => {
    const c = canonicalResource(r);
    if (c === undefined) throw new InvalidIssuerError(`resource ${r} is not a valid RFC 8707 resource indicator`);
    return c;
  });
  if (resources.length === 0) throw new InvalidIssuerError('at least one resource is required');
  const lifetimes: Lifetimes = { ...DEFAULT_LIFETIMES, ...opts.lifetimes };
  checkLifetimes(lifetimes);
  const clock = opts.clock ?? Date.now;
  const { redis, keys, log } = opts;

  const guardedFetcher = opts.fetchClientMetadata ? undefined : createGuardedClientMetadataFetcher();
  const documents = new ClientMetadataDocuments(
    redis,
    keys,
    opts.fetchClientMetadata ?? guardedFetcher!.fetch,
    lifetimes.cimdCache,
  );
  const clients = new ClientStore(redis, keys, documents, lifetimes.client);
  const flows = new FlowStore(redis, keys, lifetimes.flow);
  const grants = new GrantStore(redis, keys, lifetimes.code, lifetimes.grant, clock);
  const signingKeys = new SigningKeys(redis, keys, lifetimes.signingKey, lifetimes.accessToken, clock);
  const tokens = new AccessTokens(signingKeys, issuer, lifetimes.accessToken, clock);
  const introspectionClients = (opts.introspectionClients ?? []).map((c) => {
    const served = c.resources.map((r) => canonicalResource(r) ?? r);
    const foreign = served.filter((r) => !resources.includes(r));
    if (served.length === 0 || foreign.length > 0) {
      throw new InvalidIssuerError(
        `introspection client ${c.clientId} must name resources this server issues tokens for (not ${foreign.join(', ') || 'none'})`,
      );
    }
    return { ...c, resources: served };
  });
  const metadata = authorizationServerMetadata({
    issuer,
    scopes: opts.scopes,
    introspection: introspectionClients.length > 0,
  });
  const serviceName = opts.serviceName ?? 'MCP server';
  const secureCookies = new URL(issuer).protocol === 'https:';
  const limits: RateLimitDeps | undefined =
    opts.rateLimit === false ? undefined : { redis, keys, options: opts.rateLimit };

  const form = express.urlencoded({ extended: false, limit: '16kb' });
  const router = express.Router();

  router.use(metadataRouter(metadata));
  router.use(ENDPOINTS.jwks, cors(), allowedMethods(['GET', 'OPTIONS']));
  router.get(ENDPOINTS.jwks, async (_req, res, next) => {
    try {
      const jwks = await signingKeys.jwks();
      res.setHeader('Cache-Control', 'public, max-age=60');
      res.json(jwks);
    } catch (err) {
      next(err);
    }
  });

  router.use(ENDPOINTS.authorize, allowedMethods(['GET', 'POST']), rateLimiter('authorize', limits), form);
  router.all(
    ENDPOINTS.authorize,
    authorizeHandler({
      resources,
      scopes: opts.scopes,
      clients,
      flows,
      flowSeconds: lifetimes.flow,
      secureCookies,
      log,
    }),
  );

  const login = opts.login ?? { provider: 'dev' as const };
  const consentDeps = { issuer, serviceName, clients, flows, grants, secureCookies, log };
  for (const path of [ENDPOINTS.login, ENDPOINTS.consent, ENDPOINTS.callback]) {
    router.use(
      path,
      allowedMethods(path === ENDPOINTS.callback ? ['GET'] : ['GET', 'POST']),
      rateLimiter('interaction', limits),
      form,
    );
  }
  if (login.provider === 'oidc') {
    const upstream = new OidcUpstream(login, `${issuer}${ENDPOINTS.callback}`, log);
    const upstreamDeps = {
      upstream,
      signIns: new UpstreamSignIns(redis, keys, lifetimes.flow),
      flows,
      userClaim: login.userClaim,
      allowedDomains: login.allowedDomains,
      log,
    };
    router.get(ENDPOINTS.login, upstreamLoginHandler(upstreamDeps));
    router.get(ENDPOINTS.callback, upstreamCallbackHandler(upstreamDeps));
  } else {
    // The recent-users list exists only here, on the test page.
    const loginDeps = { redis, keys, flows, serviceName, recentUsersSeconds: lifetimes.grant, log };
    router.get(ENDPOINTS.login, loginPageHandler(loginDeps));
    router.post(ENDPOINTS.login, loginSubmitHandler(loginDeps));
  }
  router.get(ENDPOINTS.consent, consentPageHandler(consentDeps));
  router.post(ENDPOINTS.consent, consentSubmitHandler(consentDeps));

  router.use(ENDPOINTS.token, cors(), allowedMethods(['POST']), rateLimiter('token', limits), form);
  router.post(ENDPOINTS.token, tokenHandler({ resources, clients, grants, tokens, log }));

  // RFC 7591 bodies are small: a few URIs and names (clientMetadata.ts bounds each field).
  router.use(
    ENDPOINTS.register,
    cors(),
    allowedMethods(['POST']),
    rateLimiter('register', limits),
    express.json({ limit: '8kb' }),
  );
  router.post(
    ENDPOINTS.register,
    registerHandler({
      clients,
      maxClientsPerAddress: opts.maxClientsPerAddress ?? DEFAULT_MAX_CLIENTS_PER_ADDRESS,
      log,
    }),
  );

  router.use(ENDPOINTS.revoke, cors(), allowedMethods(['POST']), rateLimiter('revoke', limits), form);
  router.post(ENDPOINTS.revoke, revokeHandler({ resources, clients, grants, tokens, log }));

  if (introspectionClients.length > 0) {
    router.use(ENDPOINTS.introspect, allowedMethods(['POST']), rateLimiter('introspect', limits), form);
    router.post(
      ENDPOINTS.introspect,
      introspectHandler({ issuer, callers: introspectionClients, grants, tokens, log }),
    );
  }
  router.use(oauthErrorHandler(log));

  const verifierFor = (audiences: readonly string[]) =>
    createAccessTokenVerifier({ tokens, grants, audiences: audiences.map((a) => canonicalResource(a) ?? a) });

  return {
    router,
    verifier: verifierFor(resources),
    verifierFor,
    metadata,
    internals: { tokens, grants, clients, signingKeys },
    async close() {
      await guardedFetcher?.close();
    },
  };
}
