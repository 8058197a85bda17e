/**
 * Runs the MCP Inspector web UI (`mcp-inspector`, 2.x) for the browser test, on Node 22 fetched from
 * the npm registry by npx for this one command: the project itself stays on Node 20, and the Node 22
 * binary is on PATH only inside this child process.
 *
 * Bumping the Inspector: change INSPECTOR_PACKAGE's major, run `npm run test:browser`, and fix
 * what the new UI names differently (src/test/browser/inspectorUi.ts holds every selector).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../conformance/serverProcess.js';

/** The major is pinned: 2.x is the UI the test and docs/oauth.md describe. */
export const INSPECTOR_PACKAGE = '@modelcontextprotocol/inspector@2';
/** The Inspector 2.x needs Node >= 22.19; this package carries such a binary for Linux x64. */
export const NODE_PACKAGE = process.env['INSPECTOR_NODE_PACKAGE'] ?? `node-${process.platform}-${process.arch}@22`;

export interface RunningInspector {
  /** The URL it prints, with its API token: http://127.0.0.1:<port>?MCP_INSPECTOR_API_TOKEN=… */
  url: string;
  /** http://127.0.0.1:<port> */
  origin: string;
  /** `mcp-inspector --version` as it reported itself. */
  version: string;
  /** Everything the process printed (for failure reports). */
  output(): string;
  stop(): Promise<void>;
}

const URL_LINE = /(http:\/\/127\.0\.0\.1:\d+\/?\?MCP_INSPECTOR_API_TOKEN=[A-Za-z0-9_-]+)/;

function npx(command: string, env: NodeJS.ProcessEnv): ChildProcess {
  return spawn('npx', ['-y', '-p', NODE_PACKAGE, '-p', INSPECTOR_PACKAGE, '-c', command], {
    env,
    detached: true, // own process group: stop() ends npx, node and whatever the Inspector started
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

async function inspectorVersion(env: NodeJS.ProcessEnv): Promise<string> {
  const child = npx('mcp-inspector --version', env);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`mcp-inspector --version exited with ${String(code)}`);
  return out.trim().split('\n').pop()!.trim();
}

export async function startInspector(opts: { timeoutMs?: number } = {}): Promise<RunningInspector> {
  const home = await mkdtemp(join(tmpdir(), 'inspector-'));
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    // Its config, catalog and logs go to a throwaway home; secrets (OAuth tokens) stay in memory.
    HOME: home,
    MCP_STORAGE_DIR: home,
    MCP_INSPECTOR_SECRET_STORE: 'memory',
    MCP_AUTO_OPEN_ENABLED: 'false',
    HOST: '127.0.0.1',
    // The web server needs a fixed port (its origin allow-list is derived from it); the MCP Apps
    // sandbox and app-origin servers may take any free one.
    CLIENT_PORT: String(port),
    MCP_SANDBOX_PORT: '0',
    MCP_APP_ORIGIN_PORT: '0',
    npm_config_update_notifier: 'false',
  };
  delete env['MCP_INSPECTOR_API_TOKEN'];
  const version = await inspectorVersion(env);
  const child = npx('mcp-inspector --web', env);
  let output = '';
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      killGroup(child, 'SIGTERM');
      const timer = setTimeout(() => killGroup(child, 'SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    await rm(home, { recursive: true, force: true });
  };
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`the Inspector printed no URL within ${opts.timeoutMs ?? 120_000} ms:\n${output}`)),
        opts.timeoutMs ?? 120_000,
      );
      const onData = (d: Buffer) => {
        output += d.toString();
        const m = URL_LINE.exec(output);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the Inspector exited with ${String(code)} before printing its URL:\n${output}`));
      });
    });
    return { url, origin: new URL(url).origin, version, output: () => output, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
