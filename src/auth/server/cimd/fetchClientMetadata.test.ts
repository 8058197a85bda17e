/**
 * The SSRF guard of the CIMD fetcher. The resolver is injected, so no test touches real DNS or
 * any non-loopback address: each refusal happens inside the socket's lookup, before a connection.
 */
import type { LookupAddress } from 'node:dns';
import { forbiddenRange } from './addressPolicy.js';
import { ClientMetadataFetchError, createGuardedClientMetadataFetcher } from './fetchClientMetadata.js';

describe('forbiddenRange', () => {
  test.each([
    ['127.0.0.1', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'linkLocal'],
    ['100.64.0.1', 'carrierGradeNat'],
    ['0.0.0.0', 'unspecified'],
    ['::1', 'loopback'],
    ['fe80::1', 'linkLocal'],
    ['fd00::1', 'uniqueLocal'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:169.254.169.254', 'linkLocal'],
    ['[::1]', 'loopback'],
    // IPv4-compatible IPv6 (RFC 4291 §2.5.5.1, deprecated) carries an IPv4 address too.
    ['::7f00:1', 'loopback'],
    ['::127.0.0.1', 'loopback'],
    ['::a9fe:a9fe', 'linkLocal'],
    ['::a00:1', 'private'],
  ])('%s is forbidden (%s)', (addr, range) => {
    expect(forbiddenRange(addr)).toBe(range);
  });

  test.each(['93.184.215.14', '2606:4700::6810:85e5'])('%s is allowed', (addr) => {
    expect(forbiddenRange(addr)).toBeUndefined();
  });
});

describe('guarded fetcher', () => {
  const resolvingTo = (addresses: LookupAddress[]) => {
    const calls: string[] = [];
    const resolve = async (host: string) => {
      calls.push(host);
      return addresses;
    };
    return { calls, resolve };
  };

  test.each([
    [[{ address: '10.0.0.5', family: 4 }], 'private'],
    [[{ address: '169.254.169.254', family: 4 }], 'linkLocal'],
    // One bad address among good ones is enough: the connection could pick it.
    [
      [
        { address: '93.184.215.14', family: 4 },
        { address: '127.0.0.1', family: 4 },
      ],
      'loopback',
    ],
  ])('a host resolving to %j is refused (%s)', async (addresses, range) => {
    const r = resolvingTo(addresses);
    const f = createGuardedClientMetadataFetcher({ resolve: r.resolve, timeoutMs: 2000 });
    try {
      const err = await f.fetch(new URL('https://metadata.test/client.json')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ClientMetadataFetchError);
      expect((err as Error).message).toBe(`metadata.test resolves to a forbidden address (${range})`);
      expect(r.calls).toEqual(['metadata.test']);
    } finally {
      await f.close();
    }
  });

  test('IP literals are judged without resolving', async () => {
    const r = resolvingTo([]);
    const f = createGuardedClientMetadataFetcher({ resolve: r.resolve });
    try {
      await expect(f.fetch(new URL('https://169.254.169.254/x.json'))).rejects.toThrow(
        'client metadata URL points at a forbidden address (linkLocal)',
      );
      await expect(f.fetch(new URL('https://[fd00::1]/x.json'))).rejects.toThrow('(uniqueLocal)');
      expect(r.calls).toEqual([]);
    } finally {
      await f.close();
    }
  });

  test('http URLs are refused', async () => {
    const f = createGuardedClientMetadataFetcher({ resolve: async () => [] });
    try {
      await expect(f.fetch(new URL('http://client.test/x.json'))).rejects.toThrow('client metadata URL must use https');
    } finally {
      await f.close();
    }
  });
});
