/**
 * Test fixture: an upstream OpenID provider for LOGIN_PROVIDER=oidc, played by oidc-provider (the
 * certified OpenID provider library) on loopback. It knows three people, signs ID tokens with
 * ES256, requires PKCE, and answers its login and consent interactions by itself: it signs in
 * whoever `signInAs` names, or cancels (error=access_denied) when that is undefined, the way a
 * person pressing "Cancel" would.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';
import '../separate/fixtures/corporateSso.js'; // its console filter for oidc-provider's notices

export const UPSTREAM_CLIENT_ID = 'mcp-sign-in';

/** The provider's users: a verified example.com address, another domain, an unverified address. */
export const UPSTREAM_USERS: Record<string, { email: string; email_verified: boolean; name: string }> = {
  'u-alice': { email: 'alice@example.com', email_verified: true, name: 'Alice' },
  'u-bob': { email: 'bob@other.example', email_verified: true, name: 'Bob' },
  'u-carol': { email: 'carol@example.com', email_verified: false, name: 'Carol' },
};

export interface UpstreamIdp {
  issuer: string;
  /** Who signs in at the next interaction; undefined = the user cancels. */
  signInAs: string | undefined;
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function startUpstreamIdp(opts: { redirectUri: string }): Promise<UpstreamIdp> {
  let server: Server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const issuer = `http://127.0.0.1:${port}`;

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: UPSTREAM_CLIENT_ID,
        token_endpoint_auth_method: 'none',
        redirect_uris: [opts.redirectUri],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        id_token_signed_response_alg: 'ES256',
      },
    ],
    jwks: { keys: [await signingJwk()] },
    scopes: ['openid', 'email', 'profile'],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    cookies: { keys: ['upstream-idp-test-cookie-key'] },
    findAccount: async (_ctx: unknown, id: string) => ({
      accountId: id,
      claims: async () => ({ sub: id, ...UPSTREAM_USERS[id] }),
    }),
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    features: { devInteractions: { enabled: false } },
  });
  provider.on('server_error', () => undefined);

  const fixture: UpstreamIdp = {
    issuer,
    signInAs: 'u-alice',
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    start: async () => {
      server = createServer(handler);
      server.listen(port, '127.0.0.1');
      await once(server, 'listening');
    },
    close: () => (server.listening ? fixture.stop() : Promise.resolve()),
  };

  const callback = provider.callback();
  const handler: Parameters<typeof createServer>[1] = (req, res) => {
    if (!req.url?.startsWith('/interaction/')) return callback(req, res);
    void (async () => {
      const details = await provider.interactionDetails(req, res);
      const accountId = fixture.signInAs;
      if (accountId === undefined) {
        await provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'the user cancelled' }, { mergeWithLastSubmission: false });
        return;
      }
      const grant = new provider.Grant({ accountId, clientId: String(details.params['client_id']) });
      for (const s of String(details.params['scope'] ?? '').split(' ')) if (s) grant.addOIDCScope(s);
      const grantId = await grant.save();
      await provider.interactionFinished(req, res, { login: { accountId }, consent: { grantId } }, { mergeWithLastSubmission: false });
    })().catch((err: Error) => {
      res.statusCode = 500;
      res.end(err.message);
    });
  };
  server.on('request', handler);
  return fixture;
}

async function signingJwk() {
  const { exportJWK, generateKeyPair } = await import('jose');
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  return { ...(await exportJWK(privateKey)), kid: 'upstream-key-1', alg: 'ES256', use: 'sig' };
}
