/**
 * `npm run bench -- --memory --sessions N` (or `tsx src/bench/sessions.ts --sessions N`): memory of
 * hosting and relaying many open sessions (docs/performance.md, "Sessions and memory").
 *
 * Two instances on a real Redis (REDIS_URL, default 127.0.0.1:6379), as separate processes so each
 * one's RSS is its own: N sessions are initialized on A (A hosts them all), N standalone GET
 * streams are held on B (B relays them all: the notifications of A's sessions reach them through
 * Redis), then every session is called once (`tools/call echo`, through B). Prints the RSS of both
 * instances after each phase and the calls' latency. Flags: --sessions N (default 10000),
 * --max-live M (MAX_LIVE_SESSIONS_PER_INSTANCE of the instances; default: the server's own),
 * --concurrency C (requests in flight while opening and calling, default 32), --json, --tsx (run
 * the TypeScript sources instead of the build, which the bench otherwise builds first), --gc (also
 * report each instance's heap after a forced full collection, i.e. what it retains: the instances
 * then run with --expose-gc and src/bench/gcOnSignal.mjs), --idle S (after each phase, wait S seconds
 * without traffic and print the figures again: the periodic work of an instance holding N sessions
 * or streams, i.e. session refreshes every 2 s and keep-alives every SSE_KEEPALIVE_MS, runs then).
 * BENCH_NODE_ARGS passes node flags to both instances.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request, type IncomingMessage } from 'node:http';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { removeKeysWithPrefix } from '../redis/removePrefix.js';
import { freePort } from './freePort.js';

const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--memory'),
  options: {
    sessions: { type: 'string', default: '10000' },
    'max-live': { type: 'string' },
    concurrency: { type: 'string', default: '32' },
    json: { type: 'boolean', default: false },
    tsx: { type: 'boolean', default: false },
    gc: { type: 'boolean', default: false },
    idle: { type: 'string', default: '0' },
  },
});
const gcDir = values.gc ? mkdtempSync(join(tmpdir(), 'bench-gc-')) : undefined;
const N = Number(values.sessions);
const CONCURRENCY = Number(values.concurrency);
if (!Number.isInteger(N) || N < 1) throw new Error('--sessions takes one positive integer here');
const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const prefix = `benchmem${process.pid}`;
const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

interface Instance {
  port: number;
  child: ChildProcess;
}

async function startInstance(name: string, port: number): Promise<Instance> {
  const entry = values.tsx ? ['--import', 'tsx', 'src/index.ts'] : ['dist/src/index.js'];
  const gcArgs = gcDir ? ['--expose-gc', '--import', './src/bench/gcOnSignal.mjs'] : [];
  // BENCH_NODE_ARGS passes flags to the instances, e.g. --max-old-space-size=256.
  const nodeArgs = (process.env['BENCH_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, ...gcArgs, ...entry], {
    env: {
      ...process.env,
      ...(gcDir ? { BENCH_GC_REPORT_DIR: gcDir } : {}),
      REDIS_URL,
      REDIS_PREFIX: prefix,
      PORT: String(port),
      HOST: '127.0.0.1',
      AUTH_MODE: 'none',
      LOG_LEVEL: 'warn',
      RATE_LIMIT_ENABLED: 'false',
      RESOURCE_UPDATE_INTERVAL_MS: '0',
      // One (anonymous) user opens them all.
      MAX_SESSIONS_PER_USER: String(Math.min(100_000, N + 10)),
      ...(values['max-live'] ? { MAX_LIVE_SESSIONS_PER_INSTANCE: values['max-live'] } : {}),
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  let exited = false;
  child.once('exit', () => (exited = true));
  for (;;) {
    if (exited) throw new Error(`instance ${name} exited during start-up`);
    const up = await fetch(`http://127.0.0.1:${port}/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) return { port, child };
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Resident set size of a process in MB, from /proc (Linux). */
function rssMb(pid: number | undefined): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]) / 1024);
}

/** The instance's own gauges (mcp_active_sessions, mcp_live_sessions, mcp_active_streams{kind="get"}). */
async function gauges(port: number): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const read = (re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);
  return {
    hosted: read(/^mcp_active_sessions (\d+)/m),
    live: read(/^mcp_live_sessions (\d+)/m),
    getStreams: read(/^mcp_active_streams\{kind="get"\} (\d+)/m),
    heapMb: Math.round(read(/^nodejs_heap_size_used_bytes (\d+)/m) / 1024 / 1024),
  };
}

/** Heap (MB) an instance retains after a forced full collection (--gc only). */
async function retainedMb(child: ChildProcess): Promise<number | undefined> {
  if (!gcDir) return undefined;
  const file = join(gcDir, `${child.pid}.json`);
  const since = Date.now();
  child.kill('SIGUSR2');
  for (;;) {
    try {
      const report = JSON.parse(readFileSync(file, 'utf8')) as { heapUsed: number; at: number };
      if (report.at >= since) return Math.round(report.heapUsed / 1024 / 1024);
    } catch {
      // not written yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });

function post(
  port: number,
  body: string,
  sid?: string,
): Promise<{ status: number; sid: string | undefined; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/mcp',
        method: 'POST',
        agent,
        headers: { ...HEADERS, ...(sid ? { 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' } : {}) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, sid: res.headers['mcp-session-id'] as string | undefined, text }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const INIT = JSON.stringify({
  jsonrpc: '2.0',
  id: 0,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'bench', version: '1' } },
});
const INITIALIZED = JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' });

async function openSession(port: number): Promise<string> {
  const res = await post(port, INIT);
  if (res.status !== 200 || !res.sid) throw new Error(`initialize failed: ${res.status} ${res.text.slice(0, 200)}`);
  const ack = await post(port, INITIALIZED, res.sid);
  if (ack.status !== 202) throw new Error(`notifications/initialized: ${ack.status}`);
  return res.sid;
}

/** Opens a standalone GET stream (its own connection) and resolves once its headers arrived. */
function openGetStream(port: number, sid: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/mcp',
        method: 'GET',
        agent: false,
        headers: { accept: 'text/event-stream', 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' },
      },
      (res) => {
        if (res.statusCode !== 200) return reject(new Error(`GET stream: ${res.statusCode}`));
        res.resume();
        resolve(res);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** Runs `task` over `items` with at most CONCURRENCY at once. */
async function pool<T, R>(items: T[], task: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(CONCURRENCY, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await task(items[i]!, i);
      }
    }),
  );
  return out;
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

async function main(): Promise<void> {
  if (!values.tsx) execFileSync('npm', ['run', 'build', '--silent'], { stdio: 'inherit' });
  const settings = loadConfig({ REDIS_URL }).redis;
  const [portA, portB] = [await freePort(), await freePort()];
  const a = await startInstance('A', portA);
  const b = await startInstance('B', portB);
  const phases: Array<Record<string, number | string>> = [];
  const snapshot = async (phase: string, seconds?: number) => {
    const [ga, gb] = [await gauges(portA), await gauges(portB)];
    const [rssA, rssB] = [rssMb(a.child.pid), rssMb(b.child.pid)];
    const [retainedA, retainedB] = [await retainedMb(a.child), await retainedMb(b.child)];
    const row = {
      phase,
      rssA,
      rssB,
      heapA: ga.heapMb!,
      heapB: gb.heapMb!,
      ...(gcDir ? { retainedA, retainedB } : {}),
      hostedA: ga.hosted!,
      liveA: ga.live!,
      getStreamsB: gb.getStreams!,
      ...(seconds === undefined ? {} : { seconds: Math.round(seconds * 10) / 10 }),
    };
    phases.push(row);
    if (!values.json) console.log(JSON.stringify(row));
  };
  const IDLE_S = Number(values.idle);
  /** With --idle S: the same figures again after S seconds without traffic (V8's memory reducer runs then). */
  const afterIdle = async (phase: string) => {
    if (!(IDLE_S > 0)) return;
    await new Promise((r) => setTimeout(r, IDLE_S * 1000));
    await snapshot(`${phase}, then ${IDLE_S} s idle`);
  };
  const streams: IncomingMessage[] = [];
  try {
    await snapshot('started');
    let t0 = performance.now();
    const sids = await pool(Array.from({ length: N }), () => openSession(portA));
    await snapshot(`${N} sessions opened on A`, (performance.now() - t0) / 1000);
    await afterIdle(`${N} sessions opened on A`);

    t0 = performance.now();
    // Opened a few at a time like the sessions, then held open together.
    await pool(sids, async (sid) => void streams.push(await openGetStream(portB, sid)));
    await snapshot(`${N} GET streams held on B`, (performance.now() - t0) / 1000);
    await afterIdle(`${N} GET streams held on B`);

    t0 = performance.now();
    const latencies = await pool(sids, async (sid, i) => {
      const start = performance.now();
      const res = await post(
        portB,
        JSON.stringify({
          jsonrpc: '2.0',
          id: i + 1,
          method: 'tools/call',
          params: { name: 'echo', arguments: { message: 'm' } },
        }),
        sid,
      );
      if (res.status !== 200 || !res.text.includes('Echo: m'))
        throw new Error(`call failed: ${res.status} ${res.text.slice(0, 200)}`);
      return performance.now() - start;
    });
    const seconds = (performance.now() - t0) / 1000;
    await snapshot(`each session called once through B`, seconds);
    await afterIdle(`each session called once through B`);
    latencies.sort((x, y) => x - y);
    const calls = {
      calls: N,
      concurrency: CONCURRENCY,
      p50Ms: Math.round(percentile(latencies, 50) * 10) / 10,
      p99Ms: Math.round(percentile(latencies, 99) * 10) / 10,
      perSecond: Math.round(N / seconds),
    };
    if (values.json)
      console.log(JSON.stringify({ sessions: N, maxLive: values['max-live'] ?? 'default', phases, calls }));
    else console.log(JSON.stringify(calls));
  } finally {
    for (const s of streams) s.destroy();
    agent.destroy();
    a.child.kill('SIGTERM');
    b.child.kill('SIGTERM');
    await Promise.all([once(a.child, 'exit'), once(b.child, 'exit')]);
    await removeKeysWithPrefix(settings, prefix);
    if (gcDir && process.env['BENCH_HEAP_SNAPSHOTS'] !== '1') rmSync(gcDir, { recursive: true, force: true });
    else if (gcDir) console.error(`heap snapshots in ${gcDir}`);
  }
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    console.error(err);
    process.exit(1);
  },
);
