/**
 * Test fixture: an upstream OpenID provider for LOGIN_PROVIDER=oidc, played by oidc-provider (the
 * certified OpenID provider library) on loopback. It knows three people, signs ID tokens with
 * ES256, requires PKCE, and answers its login and consent interactions by itself: it signs in
 * whoever `signInAs` names, or cancels (error=access_denied) when that is undefined, the way a
 * person pressing "Cancel" would.
 */
import Provider from 'oidc-provider';
import { hostOidcProvider, interactionParam, signingKey } from './oidcProvider.js';

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
  const { privateJwk } = await signingKey('upstream-key-1');
  const host = await hostOidcProvider({
    provider: (issuer) =>
      new Provider(issuer, {
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
        jwks: { keys: [privateJwk] },
        scopes: ['openid', 'email', 'profile'],
        claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
        cookies: { keys: ['upstream-idp-test-cookie-key'] },
        findAccount: async (_ctx: unknown, id: string) => ({
          accountId: id,
          claims: async () => ({ sub: id, ...UPSTREAM_USERS[id] }),
        }),
        interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
        features: { devInteractions: { enabled: false } },
      }),
    answer: (details) =>
      fixture.signInAs === undefined
        ? undefined
        : {
            accountId: fixture.signInAs,
            consent: (grant) => {
              for (const s of (interactionParam(details, 'scope') ?? '').split(' ')) if (s) grant.addOIDCScope(s);
            },
          },
  });
  const fixture: UpstreamIdp = {
    issuer: host.issuer,
    signInAs: 'u-alice',
    stop: host.stop,
    start: host.start,
    close: host.close,
  };
  return fixture;
}
