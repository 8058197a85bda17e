/**
 * The floor of `npm run bench`: the least any server can do for a cross-instance `tools/call` over
 * Redis pub/sub. Two processes, as the session lane's two instances:
 *   - `relay` (node:http): reads the body, PUBLISHes it with a request number to the host's
 *     channel, and answers the HTTP request when the reply comes back on its own channel;
 *   - `host`: parses the JSON-RPC request and PUBLISHes an echo result to the relay's channel.
 * Two Redis hops per call, as in the routing mesh, and nothing else: no MCP SDK, auth, validation,
 * logging or metrics. Plain ioredis connections, one publisher and one subscriber per process.
 *
 *   node dist/src/bench/floor.js relay <port> <redis-url> <tag>
 *   node dist/src/bench/floor.js host <redis-url> <tag>
 * Prints `ready` on stdout once subscribed (and listening).
 */
import { createServer, type ServerResponse } from 'node:http';
import { Redis } from 'ioredis';

const [role, ...rest] = process.argv.slice(2);

async function connect(url: string): Promise<[Redis, Redis]> {
  const pub = new Redis(url, { lazyConnect: true });
  const sub = new Redis(url, { lazyConnect: true });
  await Promise.all([pub.connect(), sub.connect()]);
  return [pub, sub];
}

async function host(url: string, tag: string): Promise<void> {
  const [pub, sub] = await connect(url);
  sub.on('message', (_channel: string, message: string) => {
    const nl = message.indexOf('\n');
    const req = JSON.parse(message.slice(nl + 1)) as { id: number; params?: { arguments?: { message?: string } } };
    const result = {
      jsonrpc: '2.0',
      id: req.id,
      result: { content: [{ type: 'text', text: `Echo: ${req.params?.arguments?.message ?? ''}` }] },
    };
    void pub.publish(`floor:${tag}:relay`, `${message.slice(0, nl)}\n${JSON.stringify(result)}`);
  });
  await sub.subscribe(`floor:${tag}:host`);
}

async function relay(port: number, url: string, tag: string): Promise<void> {
  const [pub, sub] = await connect(url);
  const waiting = new Map<number, ServerResponse>();
  let next = 0;
  sub.on('message', (_channel: string, message: string) => {
    const nl = message.indexOf('\n');
    const id = Number(message.slice(0, nl));
    const res = waiting.get(id);
    if (!res) return;
    waiting.delete(id);
    const body = message.slice(nl + 1);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  await sub.subscribe(`floor:${tag}:relay`);
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const id = ++next;
      waiting.set(id, res);
      void pub.publish(`floor:${tag}:host`, `${id}\n${Buffer.concat(chunks).toString('utf8')}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
}

const started =
  role === 'relay'
    ? relay(Number(rest[0]), rest[1]!, rest[2]!)
    : role === 'host'
      ? host(rest[0]!, rest[1]!)
      : Promise.reject(new Error('usage: floor relay <port> <redis-url> <tag> | floor host <redis-url> <tag>'));
started.then(
  () => process.stdout.write('ready\n'),
  (err: unknown) => {
    process.stderr.write(`floor: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
process.on('SIGTERM', () => process.exit(0));
