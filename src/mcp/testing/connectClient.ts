/**
 * Test support: an SDK `Client` linked in memory to a fresh `createMcpServer`, with a log sink
 * tests can await on instead of sleeping.
 */
import { EventEmitter, once } from 'node:events';
import { Writable } from 'node:stream';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { ClientCapabilities } from '@modelcontextprotocol/sdk/types.js';
import { pino } from 'pino';
import type { McpSessionContext } from '../context.js';
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
  ctx: McpSessionContext;
  logs: ReturnType<typeof captureLogs>;
  close(): Promise<void>;
}

export async function connectClient(
  opts: {
    capabilities?: ClientCapabilities;
    ctx?: Partial<McpSessionContext>;
    /** Runs before connect: register the client's sampling/elicitation handlers here. */
    setup?: (client: Client) => void;
  } = {},
): Promise<Connected> {
  const logs = captureLogs();
  const ctx: McpSessionContext = {
    sessionId: 'test-session',
    userId: 'test-user',
    state: new InMemorySessionState(),
    log: logs.log,
    ...opts.ctx,
  };
  const server = createMcpServer(ctx);
  const client = new Client({ name: 'test-client', version: '1.0.0' }, { capabilities: opts.capabilities ?? {} });
  opts.setup?.(client);
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
  await server.connect(serverTransport);
  await client.connect(clientTransport);
  return {
    client,
    server,
    ctx,
    logs,
    close: async () => {
      await client.close();
      await server.close();
    },
  };
}
