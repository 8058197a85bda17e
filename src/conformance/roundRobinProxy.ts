/**
 * A per-request round-robin HTTP proxy on loopback, for running the conformance suite through
 * several instances the way a plain load balancer spreads traffic: every HTTP request goes to the
 * next instance, whatever session or stream it belongs to. Bodies and responses (SSE included)
 * are piped through untouched; the Host header names the proxy, as behind a real balancer.
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RoundRobinProxy {
  url: string;
  /** Requests forwarded to each target, in target order. */
  counts: number[];
  close(): Promise<void>;
}

/** Listens on `port` (0 = any) of 127.0.0.1. */
export async function startRoundRobinProxy(targets: string[], port = 0): Promise<RoundRobinProxy> {
  const upstreams = targets.map((t) => new URL(t));
  const counts = upstreams.map(() => 0);
  let next = 0;
  const server: Server = createServer((req, res) => {
    const index = next++ % upstreams.length;
    counts[index]!++;
    const target = upstreams[index]!;
    const upstream = request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32000, message: 'Bad gateway' } }));
    });
    // A client that goes away ends its upstream request too (an SSE stream's end is a signal).
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', resolve));
  const address = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}`,
    counts,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
