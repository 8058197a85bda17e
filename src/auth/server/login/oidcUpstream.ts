/**
 * The upstream OpenID provider, spoken to through openid-client (discovery, PKCE, the
 * authorization URL, the code exchange with its `state`, RFC 9207 `iss` and `nonce` checks) and
 * jose (the ID token: signature against the provider's JWKS, then iss, aud, exp, nonce, azp; OIDC
 * Core §3.1.3.7). openid-client does not check the ID token's signature on a code exchange over
 * TLS (§3.1.3.7 point 6 allows that); we do anyway, since the token is what makes a user.
 *
 * Every request has a deadline (LOGIN_OIDC_TIMEOUT_MS). Failures become `UpstreamLoginError`:
 * unreachable or timed out → 503, an unusable answer → 502, a response that fails validation →
 * 400, a refusal or cancellation at the provider → 403. Discovery runs on first use (the server
 * starts while the provider is down) and is kept once it succeeded.
 */
import * as oidc from 'openid-client';
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import type { Logger } from '../../../observability/logger.js';
import { UpstreamLoginError } from '../errors.js';
import type { OidcLoginOptions } from './options.js';

/** Asymmetric algorithms only: an HMAC ID token would be keyed with the client secret. */
const ID_TOKEN_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * fetch's network failure (a TypeError, possibly wrapped by openid-client as "something went
 * wrong"). Judged by name along the cause chain: the error may come from another realm (undici's
 * under a VM sandbox), where `instanceof TypeError` is false.
 */
function isNetworkFailure(err: unknown): boolean {
  for (
    let e = err, depth = 0;
    typeof e === 'object' && e !== null && depth < 5;
    e = (e as { cause?: unknown }).cause, depth++
  ) {
    if ((e as Error).name === 'TypeError') return true;
  }
  return false;
}

export interface UpstreamChecks {
  state: string;
  nonce: string;
  codeVerifier: string;
}

interface Discovered {
  config: oidc.Configuration;
  jwks: ReturnType<typeof createRemoteJWKSet>;
}

export class OidcUpstream {
  private discovered?: Discovered;
  private pending?: Promise<Discovered>;

  constructor(
    private readonly opts: OidcLoginOptions,
    /** Our /oauth/callback URL, registered at the provider. */
    readonly redirectUri: string,
    private readonly log: Logger,
  ) {}

  /** Where to send the browser: the provider's authorization endpoint with PKCE, state and nonce. */
  async authorizationUrl(checks: UpstreamChecks): Promise<URL> {
    const { config } = await this.discover();
    return oidc.buildAuthorizationUrl(config, {
      redirect_uri: this.redirectUri,
      scope: this.opts.scopes.join(' '),
      response_type: 'code',
      code_challenge: await oidc.calculatePKCECodeChallenge(checks.codeVerifier),
      code_challenge_method: 'S256',
      state: checks.state,
      nonce: checks.nonce,
    });
  }

  /**
   * Validates the callback (`currentUrl`: our redirect URI with the provider's query), redeems the
   * code and returns the verified ID token's claims. Claims in `wanted` that the ID token lacks are
   * read from the UserInfo endpoint (OIDC Core §5.4: with an access token, a provider may return
   * scope claims such as `email` only there), bound to the same `sub` (§5.3.2).
   */
  async signIn(
    currentUrl: URL,
    checks: UpstreamChecks,
    wanted: readonly string[] = [],
  ): Promise<Record<string, unknown>> {
    const { config, jwks } = await this.discover();
    let idToken: string | undefined;
    let accessToken: string;
    try {
      const tokens = await oidc.authorizationCodeGrant(config, currentUrl, {
        expectedState: checks.state,
        expectedNonce: checks.nonce,
        pkceCodeVerifier: checks.codeVerifier,
        idTokenExpected: true,
      });
      idToken = tokens.id_token;
      accessToken = tokens.access_token;
    } catch (err) {
      throw this.translate(err, 'sign-in');
    }
    if (!idToken) throw new UpstreamLoginError('server_error', 'the identity provider returned no ID token', 502);
    const claims: Record<string, unknown> = await this.verifyIdToken(
      idToken,
      config.serverMetadata().issuer,
      checks.nonce,
      jwks,
    );
    if (wanted.every((c) => claims[c] !== undefined) || !config.serverMetadata().userinfo_endpoint) return claims;
    try {
      const info = await oidc.fetchUserInfo(config, accessToken, String(claims['sub']));
      // The ID token's claims win: it is the signed statement.
      return { ...info, ...claims };
    } catch (err) {
      throw this.translate(err, 'sign-in');
    }
  }

  private async verifyIdToken(
    token: string,
    issuer: string,
    nonce: string,
    jwks: Discovered['jwks'],
  ): Promise<JWTPayload> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, jwks, {
        issuer,
        audience: this.opts.clientId,
        algorithms: ID_TOKEN_ALGS,
        requiredClaims: ['sub', 'iat', 'exp', 'nonce'],
        clockTolerance: 30,
      }));
    } catch (err) {
      if (
        err instanceof joseErrors.JWKSTimeout ||
        (err instanceof joseErrors.JOSEError && err.code === 'ERR_JOSE_GENERIC')
      ) {
        throw new UpstreamLoginError(
          'temporarily_unavailable',
          'the identity provider’s signing keys could not be fetched; try again shortly',
          503,
          { cause: err },
        );
      }
      this.log.warn(
        { reason: err instanceof joseErrors.JOSEError ? err.code : String(err) },
        'upstream ID token refused',
      );
      throw new UpstreamLoginError(
        'invalid_request',
        'the identity provider’s sign-in response could not be verified; start again',
        400,
        { cause: err },
      );
    }
    // OIDC Core §3.1.3.7 points 4-5 and §3.1.3.7 (nonce, point 11), checked beyond openid-client.
    const aud = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
    const azp = payload['azp'];
    const azpOk = azp === undefined ? aud.length === 1 : azp === this.opts.clientId;
    if (payload['nonce'] !== nonce || !azpOk) {
      this.log.warn({ reason: payload['nonce'] !== nonce ? 'nonce' : 'azp' }, 'upstream ID token refused');
      throw new UpstreamLoginError(
        'invalid_request',
        'the identity provider’s sign-in response could not be verified; start again',
        400,
      );
    }
    return payload;
  }

  private discover(): Promise<Discovered> {
    if (this.discovered) return Promise.resolve(this.discovered);
    this.pending ??= this.runDiscovery()
      .then((d) => (this.discovered = d))
      .finally(() => (this.pending = undefined));
    return this.pending;
  }

  private async runDiscovery(): Promise<Discovered> {
    const issuer = new URL(this.opts.issuer);
    const insecure = issuer.protocol === 'http:' && LOOPBACK.has(issuer.hostname);
    const auth = this.opts.clientSecret === undefined ? oidc.None() : undefined;
    let config: oidc.Configuration;
    try {
      config = await oidc.discovery(issuer, this.opts.clientId, this.opts.clientSecret, auth, {
        timeout: this.opts.timeoutMs / 1000,
        // Plain http only to a provider on this machine (tests, local experiments).
        execute: insecure ? [oidc.allowInsecureRequests] : [],
      });
    } catch (err) {
      throw this.translate(err, 'discovery');
    }
    if (this.opts.clientSecret !== undefined) {
      // RFC 8414 §2: when the list is absent the default is client_secret_basic.
      const methods = config.serverMetadata().token_endpoint_auth_methods_supported ?? ['client_secret_basic'];
      const method = methods.includes('client_secret_basic')
        ? oidc.ClientSecretBasic(this.opts.clientSecret)
        : oidc.ClientSecretPost(this.opts.clientSecret);
      config = new oidc.Configuration(config.serverMetadata(), this.opts.clientId, this.opts.clientSecret, method);
      config.timeout = this.opts.timeoutMs / 1000;
      if (insecure) oidc.allowInsecureRequests(config);
    }
    const jwksUri = config.serverMetadata().jwks_uri;
    if (!jwksUri) throw new UpstreamLoginError('server_error', 'the identity provider publishes no jwks_uri', 502);
    const jwks = createRemoteJWKSet(new URL(jwksUri), {
      timeoutDuration: this.opts.timeoutMs,
      cooldownDuration: 30_000,
    });
    this.log.info({ issuer: config.serverMetadata().issuer }, 'upstream OpenID provider discovered');
    return { config, jwks };
  }

  private translate(err: unknown, step: 'discovery' | 'sign-in'): UpstreamLoginError {
    if (err instanceof UpstreamLoginError) return err;
    const unreachable = new UpstreamLoginError(
      'temporarily_unavailable',
      'the identity provider cannot be reached; try again shortly',
      503,
      { cause: err },
    );
    if (isNetworkFailure(err)) {
      this.log.warn({ step, err: (err as Error).message }, 'upstream OpenID provider unreachable');
      return unreachable;
    }
    if (err instanceof oidc.AuthorizationResponseError) {
      // The provider sent the browser back with `error` (cancelled, refused, consent required…).
      this.log.info({ error: err.error }, 'upstream sign-in refused by the provider');
      return new UpstreamLoginError(
        'access_denied',
        `sign-in was cancelled or refused at the identity provider (${err.error})`,
        403,
        { cause: err },
      );
    }
    if (err instanceof oidc.ResponseBodyError) {
      this.log.warn({ step, status: err.status, error: err.error }, 'upstream OpenID provider refused a request');
      return new UpstreamLoginError(
        'server_error',
        `the identity provider refused the sign-in (${err.error}); start again`,
        502,
        { cause: err },
      );
    }
    const code = err instanceof oidc.ClientError ? err.code : undefined;
    if (code === 'OAUTH_TIMEOUT' || code === 'OAUTH_ABORT') {
      this.log.warn({ step, code }, 'upstream OpenID provider timed out');
      return unreachable;
    }
    if (
      code === 'OAUTH_RESPONSE_IS_NOT_CONFORM' ||
      code === 'OAUTH_RESPONSE_IS_NOT_JSON' ||
      code === 'OAUTH_PARSE_ERROR' ||
      step === 'discovery'
    ) {
      this.log.warn({ step, code, err: (err as Error).message }, 'upstream OpenID provider answered unusably');
      return new UpstreamLoginError(
        'server_error',
        'the identity provider answered with something unusable; try again later',
        502,
        { cause: err },
      );
    }
    // State, iss (RFC 9207), nonce or another claim did not match: a forged or mixed-up response.
    this.log.warn({ step, code, err: (err as Error).message }, 'upstream sign-in response refused');
    return new UpstreamLoginError(
      'invalid_request',
      'the identity provider’s sign-in response could not be verified; start again',
      400,
      { cause: err },
    );
  }
}
