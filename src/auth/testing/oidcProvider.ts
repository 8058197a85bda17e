/**
 * Test fixtures' shared host for oidc-provider (the certified OpenID provider library): the
 * upstream sign-in provider (upstreamIdp.ts) and the corporate SSO authorization server
 * (src/auth/separate/fixtures/corporateSso.ts) both run through it. It binds a loopback port
 * first, so the issuer carries the real port, serves the provider there, and answers the login
 * and consent interactions itself with what the fixture decides, so flows run headlessly over
 * real HTTP. `stop()` and `start()` take the provider down and bring it back on the same port.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import Provider, { type Grant, type InteractionDetails } from 'oidc-provider';

// oidc-provider prints development notices through console.info/warn; they are noise in test output.
for (const level of ['info', 'warn'] as const) {
  const original = console[level].bind(console);
  console[level] = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].startsWith('oidc-provider ')) return;
    original(...args);
  };
}

/** Who signs in at an interaction, and what the consent grants; undefined = the user cancels. */
export type InteractionAnswer = { accountId: string; consent(grant: Grant): void } | undefined;

export interface HostedProvider {
  issuer: string;
  port: number;
  stop: () => Promise<void>;
  start: () => Promise<void>;
  close: () => Promise<void>;
}

/** An ES256 signing key with its private and public JWKs (`kid` set), for a provider's `jwks`. */
export async function signingKey(kid: string): Promise<{ privateKey: CryptoKey; privateJwk: JWK; publicJwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const meta = { kid, alg: 'ES256', use: 'sig' };
  return {
    privateKey,
    privateJwk: { ...(await exportJWK(privateKey)), ...meta },
    publicJwk: { ...(await exportJWK(publicKey)), ...meta },
  };
}

/** A string parameter of an interaction (oidc-provider types them as unknown). */
export function interactionParam(details: InteractionDetails, name: string): string | undefined {
  const v = details.params[name];
  return typeof v === 'string' ? v : undefined;
}

export async function hostOidcProvider(opts: {
  port?: number;
  /** The provider for `issuer`; its interactions must live under /interaction/. */
  provider: (issuer: string) => Provider;
  answer: (details: InteractionDetails) => InteractionAnswer;
}): Promise<HostedProvider> {
  let server: Server = createServer();
  server.listen(opts.port ?? 0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const issuer = `http://127.0.0.1:${port}`;
  const provider = opts.provider(issuer);
  // oidc-provider reports 'server_error' etc. as events; nothing to log in tests.
  provider.on('server_error', () => undefined);

  const callback = provider.callback();
  const handler: Parameters<typeof createServer>[1] = (req, res) => {
    if (!req.url?.startsWith('/interaction/')) return callback(req, res);
    void (async () => {
      const details = await provider.interactionDetails(req, res);
      const answer = opts.answer(details);
      if (answer === undefined) {
        const cancelled = { error: 'access_denied', error_description: 'the user cancelled' };
        await provider.interactionFinished(req, res, cancelled, { mergeWithLastSubmission: false });
        return;
      }
      const { accountId } = answer;
      const grant = new provider.Grant({ accountId, clientId: interactionParam(details, 'client_id') ?? '' });
      answer.consent(grant);
      const grantId = await grant.save();
      await provider.interactionFinished(
        req,
        res,
        { login: { accountId }, consent: { grantId } },
        { mergeWithLastSubmission: false },
      );
    })().catch((err: Error) => {
      res.statusCode = 500;
      res.end(err.message);
    });
  };
  server.on('request', handler);

  const stop = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  const start = async () => {
    server = createServer(handler);
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
  };
  return { issuer, port, stop, start, close: () => (server.listening ? stop() : Promise.resolve()) };
}
