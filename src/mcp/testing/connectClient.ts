/**
 * Test support: an SDK `Client` linked in memory to a fresh `createMcpServer` serving one 2025
 * session, with a log sink tests can await on instead of sleeping.
 */
import { EventEmitter, once } from 'node:events';
import { Writable } from 'node:stream';
// Both halves of the linked pair come from the client package: each SDK package bundles its own
// copy with private state.
import { Client, InMemoryTransport, type ClientCapabilities, type JSONRPCMessage } from '@modelcontextprotocol/client';
import { InMemoryServerEventBus, type McpServer, type ServerEventBus } from '@modelcontextprotocol/server';
import { pino } from 'pino';
import type { McpServerContext, McpSession } from '../context.js';
import { LegacyWireTransport } from '../legacyWire.js';
import { createRequestStateSeal, InProcessStateKeys } from '../requestState.js';
import { createMcpServer } from '../server.js';
import { InMemorySessionState } from '../sessionState.js';

export interface LogLine {
  msg: string;
  [k: string]: unknown;
}

/** A pino logger whose lines are kept and announced, so a test can `await logs.next(msg)`. */
export function captureLogs() {
  const lines: LogLine[] = [];
  const events = new EventEmitter();
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      const line = JSON.parse(chunk.toString()) as LogLine;
      lines.push(line);
      events.emit('line', line);
      done();
    },
  });
  const log = pino({ level: 'debug' }, sink);
  return {
    log,
    lines,
    /** Resolves with the first line (already logged or future) whose msg equals `msg`. */
    async waitFor(msg: string): Promise<LogLine> {
      const seen = lines.find((l) => l.msg === msg);
      if (seen) return seen;
      for (;;) {
        const [line] = (await once(events, 'line')) as [LogLine];
        if (line.msg === msg) return line;
      }
    },
  };
}

export interface Connected {
  client: Client;
  server: McpServer;
  ctx: McpServerContext;
  session: McpSession;
  logs: ReturnType<typeof captureLogs>;
  /**
   * Every message the client received, as it came off the wire: the SDK client rebuilds some
   * errors into typed classes with their own codes (e.g. resource-not-found), so wire codes are
   * checked here.
   */
  received: JSONRPCMessage[];
  close(): Promise<void>;
}

export async function connectClient(
  opts: {
    capabilities?: ClientCapabilities;
    session?: Partial<McpSession>;
    /** The change bus the session forwards from (default: a fresh in-process one). */
    events?: ServerEventBus;
    /** Runs before connect: register the client's sampling/elicitation handlers here. */
    setup?: (client: Client) => void;
  } = {},
): Promise<Connected> {
  const logs = captureLogs();
  const session: McpSession = { id: 'test-session', state: new InMemorySessionState(), ...opts.session };
  const ctx: McpServerContext = {
    userId: 'test-user',
    log: logs.log,
    events: opts.events ?? new InMemoryServerEventBus(),
    requestState: createRequestStateSeal(new InProcessStateKeys(), 600),
    session,
  };
  const server = createMcpServer(ctx);
  const client = new Client({ name: 'test-client', version: '1.0.0' }, { capabilities: opts.capabilities ?? {} });
  opts.setup?.(client);
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
  const received: JSONRPCMessage[] = [];
  // Client.connect chains a handler already installed on its transport.
  clientTransport.onmessage = (message) => received.push(message);
  await server.connect(new LegacyWireTransport(serverTransport));
  await client.connect(clientTransport);
  return {
    client,
    server,
    ctx,
    session,
    logs,
    received,
    close: async () => {
      await client.close();
      await server.close();
    },
  };
}
