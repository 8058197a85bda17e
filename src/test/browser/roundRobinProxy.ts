/**
 * A plain round-robin HTTP balancer on loopback for the browser test: each request (not each
 * connection) goes to the next live target, so consecutive requests of one MCP session land on
 * different instances, as behind a real balancer without sticky sessions. Bodies and responses are
 * streamed both ways (SSE streams pass through untouched). A target can be swapped out while the
 * proxy runs, to stand for an instance that was restarted behind the same balancer.
 */
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RoundRobinProxy {
  /** http://127.0.0.1:<port> */
  url: string;
  /** The instance base URLs requests are spread over, in turn. */
  targets: string[];
  /** Every request so far: method, path (no query: flow ids and codes stay out), status. */
  log: ProxiedRequest[];
  close(): Promise<void>;
}

export interface ProxiedRequest {
  method: string;
  path: string;
  /** Set when the upstream answered. */
  status?: number;
  /** When the upstream's answer arrived (epoch ms). */
  at?: number;
}

export async function startRoundRobinProxy(targets: string[]): Promise<RoundRobinProxy> {
  const state = { targets: [...targets], turn: 0 };
  const log: ProxiedRequest[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const entry: ProxiedRequest = { method: req.method ?? 'GET', path: (req.url ?? '/').split('?')[0]! };
    log.push(entry);
    if (state.targets.length === 0) {
      res.writeHead(503, { 'Content-Type': 'text/plain' }).end('no target yet');
      return;
    }
    const target = new URL(state.targets[state.turn++ % state.targets.length]!);
    const upstream = request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        // Host is passed through: the instances see the balancer's host, as behind a real proxy.
        headers: req.headers,
      },
      (up) => {
        entry.status = up.statusCode;
        entry.at = Date.now();
        res.writeHead(up.statusCode ?? 502, up.rawHeaders);
        up.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'Content-Type': 'text/plain' });
      res.end('bad gateway');
    });
    // The client went away: stop the upstream request too (ends a relayed SSE stream).
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get targets() {
      return state.targets;
    },
    set targets(next: string[]) {
      state.targets = [...next];
    },
    log,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
