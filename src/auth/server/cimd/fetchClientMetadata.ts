/**
 * Fetching Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document; MCP
 * authorization 2025-11-25, "Client ID Metadata Documents") without becoming an SSRF proxy:
 *
 * - https only, no redirects followed (a 3xx is a failure, so no hop can lead somewhere private);
 * - the host is resolved once, every resolved address must be public unicast, and the connection
 *   goes to exactly those checked addresses (the check runs inside the socket's `lookup`, so DNS
 *   cannot change between check and use);
 * - a deadline on the whole exchange and a cap on the body size.
 *
 * The fetcher is an injectable function so tests (and deployments with an egress proxy) can swap it.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import type { LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import { Agent, request } from 'undici';
import { forbiddenRange } from './addressPolicy.js';

/** A fetched document and the cache policy its server sent with it. */
export interface FetchedClientMetadata {
  document: unknown;
  /** The response's Cache-Control header, if any (honoured within bounds by the cache). */
  cacheControl?: string;
}

/** Returns the parsed JSON document at `url`, or throws `ClientMetadataFetchError`. */
export type ClientMetadataFetcher = (url: URL) => Promise<FetchedClientMetadata>;

export type Resolver = (hostname: string) => Promise<LookupAddress[]>;

/** Failure with a message that is safe to show on the error page. */
export class ClientMetadataFetchError extends Error {
  override name = 'ClientMetadataFetchError';
}

export interface GuardedFetcherOptions {
  timeoutMs?: number;
  /** The CIMD draft suggests documents stay small; 5 KiB leaves room for a long redirect list. */
  maxBytes?: number;
  resolve?: Resolver;
}

export interface GuardedFetcher {
  fetch: ClientMetadataFetcher;
  close(): Promise<void>;
}

const defaultResolve: Resolver = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

export function createGuardedClientMetadataFetcher(opts: GuardedFetcherOptions = {}): GuardedFetcher {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const maxBytes = opts.maxBytes ?? 5 * 1024;
  const resolve = opts.resolve ?? defaultResolve;

  type LookupCallback = (err: Error | null, address: string | LookupAddress[], family?: number) => void;
  const guardedLookup = (hostname: string, options: { all?: boolean }, callback: LookupCallback): void => {
    resolve(hostname).then(
      (addresses) => {
        if (addresses.length === 0) return callback(new ClientMetadataFetchError(`cannot resolve ${hostname}`), []);
        for (const a of addresses) {
          const range = forbiddenRange(a.address);
          if (range) {
            return callback(new ClientMetadataFetchError(`${hostname} resolves to a forbidden address (${range})`), []);
          }
        }
        if (options.all) callback(null, addresses);
        else callback(null, addresses[0]!.address, addresses[0]!.family);
      },
      (err: Error) => callback(new ClientMetadataFetchError(`cannot resolve ${hostname}: ${err.message}`), []),
    );
  };

  const agent = new Agent({
    connect: { lookup: guardedLookup, timeout: timeoutMs },
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    connections: 16,
  });

  const fetch: ClientMetadataFetcher = async (url) => {
    if (url.protocol !== 'https:') throw new ClientMetadataFetchError('client metadata URL must use https');
    // IP literals never reach `lookup`; judge them here, before any socket exists.
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    if (isIP(host) !== 0) {
      const range = forbiddenRange(host);
      if (range) throw new ClientMetadataFetchError(`client metadata URL points at a forbidden address (${range})`);
    }
    let res;
    try {
      res = await request(url, {
        dispatcher: agent,
        method: 'GET',
        headers: { accept: 'application/json' },
        maxRedirections: 0,
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      const cause = (err as { cause?: unknown }).cause;
      if (err instanceof ClientMetadataFetchError) throw err;
      if (cause instanceof ClientMetadataFetchError) throw cause;
      throw new ClientMetadataFetchError(`cannot fetch client metadata: ${(err as Error).name}`);
    }
    if (res.statusCode !== 200) {
      await res.body.dump();
      throw new ClientMetadataFetchError(
        `client metadata URL answered HTTP ${res.statusCode} (redirects are not followed)`,
      );
    }
    const declared = Number(res.headers['content-length'] ?? '0');
    if (declared > maxBytes) {
      await res.body.dump();
      throw new ClientMetadataFetchError(`client metadata document exceeds ${maxBytes} bytes`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of res.body) {
        size += (chunk as Buffer).length;
        if (size > maxBytes) {
          res.body.destroy();
          throw new ClientMetadataFetchError(`client metadata document exceeds ${maxBytes} bytes`);
        }
        chunks.push(chunk as Buffer);
      }
    } catch (err) {
      if (err instanceof ClientMetadataFetchError) throw err;
      throw new ClientMetadataFetchError(`cannot read client metadata: ${(err as Error).name}`);
    }
    const cacheControl = res.headers['cache-control'];
    try {
      return {
        document: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown,
        cacheControl: Array.isArray(cacheControl) ? cacheControl.join(', ') : cacheControl,
      };
    } catch {
      throw new ClientMetadataFetchError('client metadata document is not JSON');
    }
  };

  return { fetch, close: () => agent.close() };
}
