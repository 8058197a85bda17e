/**
 * Jest global setup: the integration suites need a real Redis.
 *
 * - `single` (the default `npm test`): REDIS_URL when set, else the Redis these machines normally
 *   run on 127.0.0.1:6379, else a throwaway redis-server on a free port for this run. With none of
 *   those, fail loudly: a suite that silently skips its multi-instance tests proves nothing.
 * - `cluster` and `sentinel`: see globalSetup.topologies.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createConnection, createServer, type AddressInfo } from 'node:net';

function reachable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host, port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function freePort(): Promise<number> {
  const srv = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => srv.once('listening', r));
  const { port } = srv.address() as AddressInfo;
  await new Promise((r) => srv.close(r));
  return port;
}

/** What globalTeardown stops (global setup and teardown share one process). */
function track(child: ChildProcess): void {
  ((globalThis as { __redisChildren?: ChildProcess[] }).__redisChildren ??= []).push(child);
}

export default async function globalSetup(): Promise<void> {
  if (process.env['REDIS_URL']) return;
  if (await reachable('127.0.0.1', 6379)) {
    process.env['REDIS_URL'] = 'redis://127.0.0.1:6379';
    return;
  }
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
      detached: false,
    },
  );
  const failed = new Promise<never>((_, reject) =>
    child.once('error', () =>
      reject(new Error('The tests need Redis: set REDIS_URL, run one on 127.0.0.1:6379, or install redis-server.')),
    ),
  );
  for (let i = 0; i < 100; i++) {
    if (await Promise.race([reachable('127.0.0.1', port), failed])) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  process.env['REDIS_URL'] = `redis://127.0.0.1:${port}`;
  track(child);
}
