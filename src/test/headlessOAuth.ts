/**
 * Headless OAuth for end-to-end tests: the SDK's own client flow (SDK v2,
 * `@modelcontextprotocol/client`), with a "browser" that is a function (form posts to our login
 * pages, or an IdP's interaction endpoints).
 */
import { randomBytes } from 'node:crypto';
import {
  Client,
  StreamableHTTPClientTransport,
  type ClientOptions,
  UnauthorizedError,
  type OAuthClientMetadata,
  type OAuthClientProvider,
  type OAuthDiscoveryState,
  type StoredOAuthClientInformation,
  type StoredOAuthTokens,
} from '@modelcontextprotocol/client';

/**
 * An in-memory OAuthClientProvider whose "browser" is a function: given the authorization URL the
 * SDK built, it returns the redirect back to the client.
 */
export class HeadlessProvider implements OAuthClientProvider {
  private info?: StoredOAuthClientInformation;
  private saved?: StoredOAuthTokens;
  private verifier?: string;
  private expectedState?: string;
  private discovery?: OAuthDiscoveryState;
  private redirect?: URL;

  constructor(
    private readonly opts: {
      redirectUrl: string;
      browser: (url: URL) => Promise<URL>;
      /** Pre-registered client (corporate IdPs) and the issuer it is registered with; unset = dynamic registration. */
      clientId?: string;
      issuer?: string;
      clientName?: string;
    },
  ) {
    // The issuer stamp binds the credential to its AS (SEP-2352), as the SDK does for registrations.
    if (opts.clientId) this.info = { client_id: opts.clientId, issuer: opts.issuer };
  }

  get redirectUrl() {
    return this.opts.redirectUrl;
  }
  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: this.opts.clientName ?? 'e2e client',
      redirect_uris: [this.opts.redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  state() {
    this.expectedState = randomBytes(8).toString('hex');
    return this.expectedState;
  }
  clientInformation() {
    return this.info;
  }
  saveClientInformation(info: StoredOAuthClientInformation) {
    this.info = info;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(t: StoredOAuthTokens) {
    this.saved = t;
  }
  saveCodeVerifier(v: string) {
    this.verifier = v;
  }
  codeVerifier() {
    if (!this.verifier) throw new Error('no code verifier');
    return this.verifier;
  }
  saveDiscoveryState(state: OAuthDiscoveryState) {
    this.discovery = state;
  }
  discoveryState() {
    return this.discovery;
  }
  invalidateCredentials(scope: 'all' | 'client' | 'tokens' | 'verifier' | 'discovery') {
    if (scope === 'all' || scope === 'tokens') this.saved = undefined;
    if (scope === 'all' || scope === 'client') this.info = undefined;
    if (scope === 'all' || scope === 'discovery') this.discovery = undefined;
  }
  async redirectToAuthorization(url: URL) {
    this.redirect = await this.opts.browser(url);
  }
  /** The redirect back to the client after consent (code, state, iss). */
  get callback(): URL | undefined {
    return this.redirect;
  }
  /** The callback's parameters, after checking `state` as a client must (the SDK does not). */
  callbackParams(): URLSearchParams {
    const cb = this.redirect;
    if (!cb) throw new Error('no authorization callback');
    if (cb.searchParams.get('state') !== this.expectedState) throw new Error('state mismatch');
    if (!cb.searchParams.get('code')) throw new Error(`authorization failed: ${cb.search}`);
    return cb.searchParams;
  }
}

/**
 * The SDK's OAuth dance: connect → 401 → authorize → finishAuth (checks `iss`) → connect again.
 * `options` picks the client's protocol era (`versionNegotiation`; default: 2025 `initialize`).
 */
export async function connectWithOAuth(
  provider: HeadlessProvider,
  mcpUrl: string,
  fetchVia: typeof fetch,
  options: ClientOptions = {},
) {
  const transport = () =>
    new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider, fetch: fetchVia });
  const first = new Client({ name: 'e2e', version: '1.0.0' }, options);
  const refused = await first.connect(transport()).then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(refused instanceof UnauthorizedError)) throw new Error(`expected UnauthorizedError, got ${String(refused)}`);
  const t = transport();
  await t.finishAuth(provider.callbackParams());
  const client = new Client({ name: 'e2e', version: '1.0.0' }, options);
  const connected = transport();
  await client.connect(connected);
  return { client, transport: connected };
}
