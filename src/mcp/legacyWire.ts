/**
 * What the 2025-11-25 lane (mesh sessions, stdio) puts on its wire where SDK v2 would say
 * otherwise. Every 2025 session's server is connected through `LegacyWireTransport`; a server
 * built for one 2026-07-28 request is not.
 *
 * Resource not found: 2025-11-25 server/resources §Error Handling gives -32002. SDK v2 encodes
 * that code as -32602 on every revision (its wire codec has "deliberately no era branch"),
 * because 2026-07-28 (SEP-2164) standardised on -32602. A 2025 client was promised -32002, so
 * this lane restores it. The error is recognised by the SDK's own rule for resource-not-found:
 * a -32602 whose `data` is exactly `{ uri }` (ProtocolError.fromError).
 */
import type { JSONRPCMessage, MessageExtraInfo, Transport, TransportSendOptions } from '@modelcontextprotocol/server';
import { RESOURCE_NOT_FOUND } from './errors.js';

const INVALID_PARAMS = -32602;

export function toLegacyWire(message: JSONRPCMessage): JSONRPCMessage {
  if (!('error' in message) || message.error.code !== INVALID_PARAMS) return message;
  const data = message.error.data as Record<string, unknown> | undefined;
  if (typeof data !== 'object' || data === null || typeof data['uri'] !== 'string' || Object.keys(data).length !== 1)
    return message;
  return { ...message, error: { ...message.error, code: RESOURCE_NOT_FOUND } };
}

/** Wraps a session's transport so everything the server sends is put in 2025-11-25 terms. */
export class LegacyWireTransport implements Transport {
  onmessage?: (message: JSONRPCMessage, extra?: MessageExtraInfo) => void;
  onclose?: () => void;
  onerror?: (error: Error) => void;

  constructor(private readonly inner: Transport) {}

  get sessionId(): string | undefined {
    return this.inner.sessionId;
  }

  async start(): Promise<void> {
    this.inner.onmessage = (message, extra) => this.onmessage?.(message, extra);
    this.inner.onclose = () => this.onclose?.();
    this.inner.onerror = (error) => this.onerror?.(error);
    await this.inner.start();
  }

  send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    return this.inner.send(toLegacyWire(message), options);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  setProtocolVersion(version: string): void {
    this.inner.setProtocolVersion?.(version);
  }
}
