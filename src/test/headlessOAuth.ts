/**
 * Headless OAuth for end-to-end tests: the SDK's own client flow, with a "browser" that is a
 * function (form posts to our login pages, or an IdP's interaction endpoints).
 */
import { randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { UnauthorizedError, type OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';

/**
 * An in-memory OAuthClientProvider whose "browser" is a function: given the authorization URL the
 * SDK built, it returns the redirect back to the client.
 */
export class HeadlessProvider implements OAuthClientProvider {
  private info?: OAuthClientInformationMixed;
  private saved?: OAuthTokens;
  private verifier?: string;
  private expectedState?: string;
  private redirect?: URL;

  constructor(
    private readonly opts: {
      redirectUrl: string;
      browser: (url: URL) => Promise<URL>;
      /** Pre-registered client (corporate IdPs); unset = dynamic registration. */
      clientId?: string;
      clientName?: string;
    },
  ) {
    if (opts.clientId) this.info = { client_id: opts.clientId };
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
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.info = info;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(t: OAuthTokens) {
    this.saved = t;
  }
  saveCodeVerifier(v: string) {
    this.verifier = v;
  }
  codeVerifier() {
    if (!this.verifier) throw new Error('no code verifier');
    return this.verifier;
  }
  invalidateCredentials(scope: 'all' | 'client' | 'tokens' | 'verifier' | 'discovery') {
    if (scope === 'all' || scope === 'tokens') this.saved = undefined;
    if (scope === 'all' || scope === 'client') this.info = undefined;
  }
  async redirectToAuthorization(url: URL) {
    this.redirect = await this.opts.browser(url);
  }
  /** The redirect back to the client after consent (code, state, iss). */
  get callback(): URL | undefined {
    return this.redirect;
  }
  /** The code from the callback, after checking `state` as a client must. */
  code(): string {
    const cb = this.redirect;
    if (!cb) throw new Error('no authorization callback');
    if (cb.searchParams.get('state') !== this.expectedState) throw new Error('state mismatch');
    const code = cb.searchParams.get('code');
    if (!code) throw new Error(`authorization failed: ${cb.search}`);
    return code;
  }
}

/** The SDK's OAuth dance: connect → 401 → authorize → finishAuth → connect again. */
export async function connectWithOAuth(provider: HeadlessProvider, mcpUrl: string, fetchVia: typeof fetch) {
  const transport = () => new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider, fetch: fetchVia });
  const first = new Client({ name: 'e2e', version: '1.0.0' });
  const refused = await first.connect(transport()).then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(refused instanceof UnauthorizedError)) throw new Error(`expected UnauthorizedError, got ${String(refused)}`);
  const t = transport();
  await t.finishAuth(provider.code());
  const client = new Client({ name: 'e2e', version: '1.0.0' });
  await client.connect(t);
  return { client, transport: t };
}
