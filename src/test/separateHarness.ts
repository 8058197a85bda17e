/**
 * Harness for separate-mode end-to-end suites: two full MCP instances (startServer with
 * AUTH_MODE=separate) on a real Redis under a random prefix, a "balancer" fetch that spreads /mcp
 * requests over them, a recorder of every Redis pub/sub message (to prove no token travels
 * there), and a headless OAuthClientProvider for the MCP SDK client.
 */
import { randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { UnauthorizedError, type OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { Redis } from 'ioredis';
import { loadConfig } from '../config.js';
import { createLogger } from '../observability/logger.js';
import { startServer, type RunningServer } from '../server.js';

export const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
/** What clients see (the balancer). Requests to it are rewritten onto the instances. */
export const BASE = 'http://localhost:3232';
export const MCP_URL = `${BASE}/mcp`;

export interface SeparateCluster {
  a: RunningServer;
  b: RunningServer;
  prefix: string;
  /** Sends requests for BASE round-robin to A and B; everything else (the AS) goes direct. */
  fetchVia: typeof fetch;
  /** Every message published under the prefix since start. */
  published: string[];
  close(): Promise<void>;
}

export async function startSeparateCluster(env: Record<string, string>): Promise<SeparateCluster> {
  const prefix = `t${randomBytes(5).toString('hex')}`;
  const recorder = new Redis(REDIS_URL);
  const published: string[] = [];
  recorder.on('pmessage', (_p: string, channel: string, message: string) => published.push(`${channel} ${message}`));
  await recorder.psubscribe(`${prefix}:*`);

  const start = () => {
    const config = loadConfig({
      REDIS_URL,
      REDIS_PREFIX: prefix,
      PORT: '0',
      HOST: '127.0.0.1',
      BASE_URI: BASE,
      AUTH_MODE: 'separate',
      RATE_LIMIT_ENABLED: 'false',
      SHUTDOWN_GRACE_MS: '1000',
      LOG_LEVEL: process.env['TEST_LOG_LEVEL'] ?? 'silent',
      ...env,
    });
    return startServer(config, createLogger(config.LOG_LEVEL));
  };
  const a = await start();
  const b = await start();
  let turn = 0;
  const fetchVia: typeof fetch = (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.origin !== BASE) return fetch(input, init);
    const target = new URL(turn++ % 2 === 0 ? a.url : b.url);
    url.protocol = target.protocol;
    url.host = target.host;
    return fetch(url, init);
  };
  return {
    a,
    b,
    prefix,
    fetchVia,
    published,
    async close() {
      await Promise.allSettled([a.stop(), b.stop()]);
      await recorder.punsubscribe();
      recorder.disconnect();
      const inspect = new Redis(REDIS_URL);
      const left = await inspect.keys(`${prefix}:*`);
      if (left.length) await inspect.del(...left);
      inspect.disconnect();
    },
  };
}

/**
 * An in-memory OAuthClientProvider whose "browser" is a function: given the authorization URL the
 * SDK built, it returns the redirect back to the client.
 */
export class HeadlessProvider implements OAuthClientProvider {
  private info?: OAuthClientInformationMixed;
  private saved?: OAuthTokens;
  private verifier?: string;
  private expectedState?: string;
  private callback?: URL;

  constructor(
    private readonly opts: {
      redirectUrl: string;
      browser: (url: URL) => Promise<URL>;
      /** Pre-registered client (corporate IdPs); unset = dynamic registration. */
      clientId?: string;
    },
  ) {
    if (opts.clientId) this.info = { client_id: opts.clientId };
  }

  get redirectUrl() {
    return this.opts.redirectUrl;
  }
  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: 'separate-mode e2e client',
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
  async redirectToAuthorization(url: URL) {
    this.callback = await this.opts.browser(url);
  }
  /** The code from the callback, after checking `state` as a client must. */
  code(): string {
    const cb = this.callback;
    if (!cb) throw new Error('no authorization callback');
    if (cb.searchParams.get('state') !== this.expectedState) throw new Error('state mismatch');
    const code = cb.searchParams.get('code');
    if (!code) throw new Error(`authorization failed: ${cb.search}`);
    return code;
  }
}

/** The SDK's OAuth dance: connect → 401 → authorize → finishAuth → connect again. */
export async function connectWithOAuth(provider: HeadlessProvider, fetchVia: typeof fetch) {
  const transport = () => new StreamableHTTPClientTransport(new URL(MCP_URL), { authProvider: provider, fetch: fetchVia });
  const first = new Client({ name: 'separate-e2e', version: '1.0.0' });
  const refused = await first.connect(transport()).then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(refused instanceof UnauthorizedError)) throw new Error(`expected UnauthorizedError, got ${String(refused)}`);
  const t = transport();
  await t.finishAuth(provider.code());
  const client = new Client({ name: 'separate-e2e', version: '1.0.0' });
  await client.connect(t);
  return { client, transport: t };
}
