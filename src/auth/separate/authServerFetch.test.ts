import { createAuthServerFetch, type Fetch } from './authServerFetch.js';
import { AuthServerUnavailableError } from './errors.js';

function harness(responder: (url: string) => Response | Promise<Response>) {
  let t = 1_000_000;
  const seen: string[] = [];
  const fetch: Fetch = async (input) => {
    seen.push(String(input));
    return responder(String(input));
  };
  const fetchAs = createAuthServerFetch({
    issuer: 'https://sso.example.com/realms/acme',
    internalBaseUrl: 'http://127.0.0.1:3001',
    timeoutMs: 1000,
    retryAfterSeconds: 5,
    fetch,
    now: () => t,
  });
  return { fetchAs, seen, advance: (ms: number) => (t += ms) };
}

test('endpoints under the public issuer are fetched from the internal base; others untouched', async () => {
  const { fetchAs, seen } = harness(() => new Response('{}'));
  await fetchAs('https://sso.example.com/realms/acme/protocol/openid-connect/certs');
  await fetchAs('https://keys.example.net/jwks');
  expect(seen).toEqual([
    'http://127.0.0.1:3001/realms/acme/protocol/openid-connect/certs',
    'https://keys.example.net/jwks',
  ]);
});

test('after a failure calls fail fast for the retry window, then try again', async () => {
  let down = true;
  const { fetchAs, seen, advance } = harness(() => {
    if (down) throw new TypeError('fetch failed');
    return new Response('{}');
  });
  const first = await fetchAs('https://sso.example.com/x').catch((e: unknown) => e);
  expect(first).toBeInstanceOf(AuthServerUnavailableError);
  expect((first as AuthServerUnavailableError).retryAfterSeconds).toBe(5);
  expect(fetchAs.open).toBe(true);

  advance(2000);
  const second = await fetchAs('https://sso.example.com/x').catch((e: unknown) => e);
  expect((second as AuthServerUnavailableError).retryAfterSeconds).toBe(3);
  expect(seen).toHaveLength(1); // failed fast, no new connection

  down = false;
  advance(3000);
  expect((await fetchAs('https://sso.example.com/x')).status).toBe(200);
  expect(fetchAs.open).toBe(false);
});

test.each([500, 502, 503, 429])('HTTP %i counts as unavailable', async (status) => {
  const { fetchAs } = harness(() => new Response('', { status }));
  await expect(fetchAs('https://sso.example.com/x')).rejects.toBeInstanceOf(AuthServerUnavailableError);
});

test('4xx answers are returned to the caller (the AS is up; the caller decides)', async () => {
  const { fetchAs } = harness(() => new Response('', { status: 404 }));
  expect((await fetchAs('https://sso.example.com/x')).status).toBe(404);
  expect(fetchAs.open).toBe(false);
});

test('a hanging AS is cut off by the timeout', async () => {
  const fetchAs = createAuthServerFetch({
    issuer: 'https://sso.example.com',
    timeoutMs: 50,
    retryAfterSeconds: 1,
    fetch: (_u, init) =>
      new Promise((_resolve, reject) =>
        init?.signal?.addEventListener('abort', () => reject(init.signal!.reason as Error)),
      ),
  });
  await expect(fetchAs('https://sso.example.com/x')).rejects.toThrow('authorization server unavailable: timeout');
});
