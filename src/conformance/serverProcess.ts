/**
 * Starts this project's real server (`tsx src/index.ts`) as a child process for the conformance
 * run, waits until it accepts TCP connections, and stops it again. The child gets its own process
 * group so stopping it also ends whatever tsx spawned, and nothing else.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';

export interface RunningServer {
  url: string;
  stop(): Promise<void>;
}

/** A port the OS just handed out on loopback (there is a small race; acceptable for a test run). */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve, reject) => srv.once('error', reject).listen(0, '127.0.0.1', resolve));
  const address = srv.address();
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  if (!address || typeof address === 'string') throw new Error('could not pick a free port');
  return address.port;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function waitForListen(child: ChildProcess, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`server exited before listening (code ${child.exitCode ?? child.signalCode})`);
    }
    if (await canConnect(port)) return;
    await delay(100);
  }
  throw new Error(`server did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`);
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

export async function startServer(opts: {
  cwd: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}): Promise<RunningServer> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = spawn(`${opts.cwd}/node_modules/.bin/tsx`, ['src/index.ts'], {
    cwd: opts.cwd,
    detached: true,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: {
      ...process.env, // keeps REDIS_URL and friends
      // The suite sends no bearer token: run without auth, bound to loopback only.
      AUTH_MODE: 'none',
      HOST: '127.0.0.1',
      PORT: String(port),
      // The suite talks to 127.0.0.1, and its DNS-rebinding scenario sends Origin = that base.
      BASE_URI: base,
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      ...opts.env,
    },
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    killGroup(child, 'SIGTERM');
    const timer = setTimeout(() => killGroup(child, 'SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  try {
    await waitForListen(child, port, opts.timeoutMs ?? 30_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: `${base}/mcp`, stop };
}
