import { PassThrough, type Stream } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';
import { Client, LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/client';
import { StdioClientTransport, getDefaultEnvironment } from '@modelcontextprotocol/client/stdio';
import { createLogger } from './observability/logger.js';
import { runStdio } from './stdio.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Collects the child's stderr as lines and lets the test await one. */
function lineCollector(stream: Stream) {
  const lines: string[] = [];
  const waiters: Array<{ pred: (l: string) => boolean; resolve: (l: string) => void }> = [];
  let partial = '';
  stream.on('data', (chunk: Buffer) => {
    partial += chunk.toString('utf8');
    const parts = partial.split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts.filter(Boolean)) {
      lines.push(line);
      for (const w of waiters.filter((w) => w.pred(line))) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  return {
    lines,
    waitFor(pred: (l: string) => boolean): Promise<string> {
      const found = lines.find(pred);
      return found ? Promise.resolve(found) : new Promise((resolve) => waiters.push({ pred, resolve }));
    },
  };
}

describe('stdio transport, end to end', () => {
  it('serves the everything server over stdin/stdout, logs only to stderr, and exits when stdin closes', async () => {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: ['--import', 'tsx', 'src/stdio.ts'],
      cwd: ROOT,
      // A fast resource-change simulator, to see subscriptions work without Redis.
      env: { ...getDefaultEnvironment(), LOG_LEVEL: 'debug', RESOURCE_UPDATE_INTERVAL_MS: '20' },
      stderr: 'pipe',
    });
    const stderr = lineCollector(transport.stderr!);
    const client = new Client({ name: 'stdio-test', version: '1.0.0' }, { capabilities: { sampling: {} } });
    const clientErrors: Error[] = [];
    client.onerror = (err) => clientErrors.push(err);
    client.setRequestHandler('sampling/createMessage', async () => ({
      model: 'test-model',
      role: 'assistant',
      content: { type: 'text', text: 'sampled over stdio' },
    }));

    await client.connect(transport);
    try {
      expect(client.getServerVersion()?.name).toBe('mcp-scaled-server');

      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toEqual(expect.arrayContaining(['echo', 'test_sampling']));

      const echo = await client.callTool({ name: 'echo', arguments: { message: 'hi' } });
      expect(JSON.stringify(echo.content)).toContain('hi');

      // A server→client request (sampling) travels back over the same pipes.
      const sampled = await client.callTool({ name: 'test_sampling', arguments: { prompt: 'say something' } });
      expect(JSON.stringify(sampled.content)).toContain('sampled over stdio');

      const text = await client.readResource({ uri: 'test://static-text' });
      expect(text.contents[0]?.uri).toBe('test://static-text');

      await client.setLoggingLevel('debug');
      await client.ping();

      const updated = new Promise<string>((resolve) =>
        client.setNotificationHandler('notifications/resources/updated', (n) => resolve(n.params.uri)),
      );
      const uris = Array.from({ length: 100 }, (_, i) => `test://static/resource/${i + 1}`);
      await Promise.all(uris.map((uri) => client.subscribeResource({ uri })));
      expect(uris).toContain(await updated);
    } finally {
      await client.close();
    }

    // Closing stdin ends the session cleanly (not by SIGTERM after the client's 2 s grace).
    await stderr.waitFor((l) => l.includes('"stdio session ended"'));
    // stdout carried only protocol messages (anything else would have surfaced as a parse error),
    // and everything on stderr is structured log output.
    expect(clientErrors).toEqual([]);
    for (const line of stderr.lines) expect(() => JSON.parse(line)).not.toThrow();
    expect(stderr.lines.some((l) => l.includes('"stdio session started"'))).toBe(true);
  }, 30_000);
});

describe('runStdio', () => {
  it('answers on the given streams, in 2025-11-25 terms, and resolves when stdin ends', async () => {
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    const logs = new PassThrough();
    const done = runStdio({ stdin, stdout, log: createLogger('info', { destination: logs }), handleSignals: false });

    const lines: string[] = [];
    const waiters: Array<(line: string) => void> = [];
    let buf = '';
    stdout.on('data', (c: Buffer) => {
      buf += c.toString('utf8');
      for (let nl = buf.indexOf('\n'); nl !== -1; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const waiter = waiters.shift();
        if (waiter) waiter(line);
        else lines.push(line);
      }
    });
    const nextLine = () =>
      lines.length ? Promise.resolve(lines.shift()!) : new Promise<string>((resolve) => waiters.push(resolve));
    stdin.write(
      JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: LATEST_PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: 't', version: '1' } },
      }) + '\n',
    );
    const response = JSON.parse(await nextLine()) as { id: number; result: { protocolVersion: string } };
    expect(response.id).toBe(1);
    expect(response.result.protocolVersion).toBe(LATEST_PROTOCOL_VERSION);

    // The 2025-11-25 wire: resource not found is -32002 (not the -32602 SDK v2 writes by default).
    stdin.write(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) + '\n');
    stdin.write(
      JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'resources/read', params: { uri: 'test://nope' } }) + '\n',
    );
    expect(JSON.parse(await nextLine())).toEqual({
      jsonrpc: '2.0',
      id: 2,
      error: { code: -32002, message: 'Resource not found', data: { uri: 'test://nope' } },
    });

    stdin.end();
    await expect(done).resolves.toBeUndefined();
  });
});
