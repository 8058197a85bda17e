/**
 * An MCP client `Transport` over one WebSocket (subprotocol `mcp`, one JSON-RPC message per text
 * frame), for tests: SDK v2 dropped its WebSocket client transport (WebSocket is not a spec
 * transport), so the v2 `Client` drives this one. Also a template for clients of /ws.
 */
import type { JSONRPCMessage, Transport } from '@modelcontextprotocol/client';
import WebSocket from 'ws';

export interface WebSocketClientOptions {
  headers?: Record<string, string>;
  /** Answer the server's pings (default true); false simulates a peer that went away silently. */
  autoPong?: boolean;
  /** Subprotocols to offer (default ['mcp']). */
  protocols?: string[];
}

/** How the socket ended. */
export interface ClosedWith {
  code: number;
  reason: string;
}

/** The upgrade was refused with an HTTP answer. */
export class UpgradeRefusedError extends Error {
  override name = 'UpgradeRefusedError';
  constructor(
    readonly status: number,
    readonly headers: Record<string, string | string[] | undefined>,
    readonly body: string,
  ) {
    super(`upgrade refused with HTTP ${status}`);
  }
}

export class WebSocketClientTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  socket: WebSocket | undefined;
  /** Resolves with the close code and reason once the socket closed. */
  readonly closed: Promise<ClosedWith>;
  private resolveClosed!: (c: ClosedWith) => void;

  constructor(
    private readonly url: URL,
    private readonly opts: WebSocketClientOptions = {},
  ) {
    this.closed = new Promise((r) => (this.resolveClosed = r));
  }

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url, this.opts.protocols ?? ['mcp'], {
        headers: this.opts.headers,
        autoPong: this.opts.autoPong ?? true,
      });
      this.socket = ws;
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => reject(new UpgradeRefusedError(res.statusCode ?? 0, res.headers, body)));
      });
      ws.once('open', () => resolve());
      ws.on('error', (err) => {
        reject(err);
        this.onerror?.(err);
      });
      ws.on('message', (data, isBinary) => {
        if (isBinary) return;
        let message: JSONRPCMessage;
        try {
          message = JSON.parse((data as Buffer).toString('utf8')) as JSONRPCMessage;
        } catch (err) {
          this.onerror?.(err as Error);
          return;
        }
        this.onmessage?.(message);
      });
      ws.on('close', (code, reason) => {
        this.resolveClosed({ code, reason: reason.toString('utf8') });
        this.onclose?.();
      });
    });
  }

  send(message: JSONRPCMessage): Promise<void> {
    return new Promise((resolve, reject) => {
      const ws = this.socket;
      if (!ws || ws.readyState !== WebSocket.OPEN) return reject(new Error('WebSocket is not open'));
      ws.send(JSON.stringify(message), (err) => (err ? reject(err) : resolve()));
    });
  }

  async close(): Promise<void> {
    const ws = this.socket;
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    ws.close(1000);
    await this.closed;
  }
}
