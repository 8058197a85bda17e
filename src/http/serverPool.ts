/**
 * Idle servers for the modern lane's direct path. Building the everything server (every handler,
 * its schemas) is a sizeable share of a stateless request's cost, and nothing in such a server is
 * per caller: the caller's identity (`ctx.http.authInfo`), capabilities and log level come with
 * each request (`_meta`), and the protocol layer's per-connection state ends with each exchange's
 * close. So a server answers one exchange at a time and then goes back to the pool.
 *
 * The SDK supports exactly that sequence: `Server.connect` rejects while a transport is attached
 * ("call close() first"), and "a new connection never inherits a binding taken from an earlier
 * per-request transport", so each exchange binds its own revision. A server whose exchange was cut
 * short is not taken back: its aborted handler may still be running.
 */
import type { McpServer } from '@modelcontextprotocol/server';

export class ServerPool {
  private readonly idle: McpServer[] = [];

  constructor(
    private readonly build: () => McpServer,
    /** Idle servers kept; more, after a burst, are left to the garbage collector. */
    private readonly maxIdle: number,
  ) {}

  /** An idle server, or a new one. */
  take(): McpServer {
    return this.idle.pop() ?? this.build();
  }

  /** Takes back a server whose exchange has closed. */
  give(server: McpServer): void {
    if (this.idle.length < this.maxIdle && !server.isConnected()) this.idle.push(server);
  }

  get size(): number {
    return this.idle.length;
  }

  clear(): void {
    this.idle.length = 0;
  }
}
