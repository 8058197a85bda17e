/**
 * `npm run bench`: two server instances on a real Redis (REDIS_URL, default 127.0.0.1:6379, or a
 * cluster with REDIS_CLUSTER_NODES / a Sentinel set-up with REDIS_SENTINELS, as the server reads them),
 * closed-loop `tools/call echo` on each protocol lane:
 *   - session (2025-11-25): sessions initialized on instance A, calls driven at instance B, so
 *     every call crosses Redis twice (B → host A → B);
 *   - modern (2026-07-28): stateless requests, no Redis hop; the clients are spread over both
 *     instances (one client: on B; 16: 8 on A, 8 on B), since any instance answers any request;
 *   - ws (2025-11-25 over WebSocket): one socket per session on B's /ws; B hosts the sessions of its
 *     own sockets, so A idles and each call crosses Redis twice within B.
 * Prints req/s and latency percentiles for 1 and 16 concurrent clients per lane, and for the modern
 * rows the share answered on the lane's direct path (src/http/modernLane.ts, from /metrics). Flags:
 * --duration <s> (default 10), --sessions 1,16 (clients), --lane session|modern|ws|both|all
 * (comma-separated; default both = session,modern), --json, --auth none|integrated (integrated: both
 * instances are also the OAuth server; a token is obtained through the real login/consent flow and
 * every call carries it).
 *
 * The instances run the compiled server (`npm run build`, then `dist/src/index.js`), which is what
 * production runs (docs/deploy/Dockerfile); the bench builds it first. --tsx runs the TypeScript
 * sources through tsx instead, as `npm start` does.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import type { Cluster } from 'ioredis';
import { loadConfig } from '../config.js';
import { createLogger } from '../observability/logger.js';
import { connectRedis, type RedisConnections } from '../redis/connections.js';
import { removeKeysWithPrefix } from '../redis/removePrefix.js';
import { openSession, percentile, runClosedLoop } from './wsLoad.js';

// `--memory`: the sessions-and-memory bench (src/bench/sessions.ts) runs instead; it exits the process.
if (process.argv.includes('--memory')) await new Promise<never>(() => void import('./sessions.js'));

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    sessions: { type: 'string', default: '1,16' },
    json: { type: 'boolean', default: false },
    auth: { type: 'string', default: 'none' },
    tsx: { type: 'boolean', default: false },
    lane: { type: 'string', default: 'both' },
  },
});
type Lane = 'session' | 'modern' | 'ws';
const LANES: readonly Lane[] = ['session', 'modern', 'ws'];
const lanes = [
  ...new Set(
    values.lane!.split(',').flatMap((l) => (l === 'both' ? ['session', 'modern'] : l === 'all' ? [...LANES] : [l])),
  ),
] as Lane[];
if (lanes.length === 0 || lanes.some((l) => !LANES.includes(l))) throw new Error('--lane takes session, modern, ws, both or all (comma-separated)');
if (values.auth !== 'none' && values.auth !== 'integrated') throw new Error('--auth must be none or integrated');
const authMode = values.auth;
const duration = Number(values.duration);
const sessionCounts = values.sessions!.split(',').map(Number);
// A Redis Cluster (REDIS_CLUSTER_NODES) or Sentinel set-up (REDIS_SENTINELS) is used as configured;
// otherwise REDIS_URL, by default the local Redis.
const REDIS_ENV: Record<string, string> =
  process.env['REDIS_CLUSTER_NODES'] || process.env['REDIS_SENTINELS'] ? {} : { REDIS_URL: process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379' };
const redisSettings = loadConfig({ ...process.env, ...REDIS_ENV }).redis;
/** The local Redis processes (every node of a cluster), whose CPU the rows report; set in main(). */
let redisProcesses: number[] = [];
const prefix = `bench${process.pid}`;
const HEADERS: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

/** Runs the real OAuth flow (scratch/oauth-flow.ts: registration, login and consent by form posts, token). */
function obtainToken(mcpUrl: string): string {
  const out = execFileSync(process.execPath, ['--import', 'tsx', 'scratch/oauth-flow.ts', '--url', mcpUrl], { encoding: 'utf8' });
  const token = out.trim().split('\n').pop();
  if (!token) throw new Error('no token from scratch/oauth-flow.ts');
  return token;
}

async function freePort(): Promise<number> {
  const srv = createNetServer().listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address() as AddressInfo;
  srv.close();
  return port;
}

interface Instance {
  url: string;
  child: ChildProcess;
}

async function startInstance(name: string, port: number, baseUri: string): Promise<Instance> {
  // BENCH_NODE_ARGS passes flags to the instances, e.g. --cpu-prof --cpu-prof-dir=/tmp/prof.
  const nodeArgs = (process.env['BENCH_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
  const entry = values.tsx ? ['--import', 'tsx', 'src/index.ts'] : ['dist/src/index.js'];
  const child = spawn(process.execPath, [...nodeArgs, ...entry], {
    env: {
      ...process.env,
      ...REDIS_ENV,
      REDIS_PREFIX: prefix,
      PORT: String(port),
      HOST: '127.0.0.1',
      AUTH_MODE: authMode,
      // One public URL for both, as behind a load balancer: the token's audience holds on either.
      BASE_URI: baseUri,
      OAUTH_RATE_LIMIT_RELAXED: 'true',
      // The access log at info would measure the terminal, not the server.
      LOG_LEVEL: 'warn',
      RATE_LIMIT_ENABLED: 'false',
      RESOURCE_UPDATE_INTERVAL_MS: '0',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  let exited = false;
  child.once('exit', () => (exited = true));
  const url = `http://127.0.0.1:${port}`;
  for (;;) {
    if (exited) throw new Error(`instance ${name} exited during start-up`);
    const up = await fetch(`${url}/health`).then((r) => r.ok, () => false);
    if (up) return { url, child };
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function initSession(base: string): Promise<string> {
  const res = await fetch(`${base}/mcp`, {
    method: 'POST',
    headers: HEADERS,
    body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'bench', version: '1' } } }),
  });
  await res.text();
  const sid = res.headers.get('mcp-session-id');
  if (!sid) throw new Error(`initialize failed: ${res.status}`);
  await fetch(`${base}/mcp`, { method: 'POST', headers: { ...HEADERS, 'mcp-session-id': sid }, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) });
  return sid;
}

interface Row {
  lane: Lane;
  sessions: number;
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  errors: number;
  total: number;
  /** CPU time per request (µs) of each process; robust to other load on the machine, unlike req/s. */
  cpu?: { host: number; relay: number; redis?: number; loader: number };
  /** Modern rows: the share of requests the instances answered on the direct path (mcp_modern_requests_total). */
  direct?: number;
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux); undefined elsewhere. */
function cpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ
  } catch {
    return undefined;
  }
}

/** The processes of every Redis node (INFO server), so their CPU counts in a cluster too. */
async function redisPids(redis: RedisConnections): Promise<number[]> {
  const nodes = redis.mode === 'cluster' ? (redis.command as unknown as Cluster).nodes('all') : [redis.command];
  const infos = await Promise.all(nodes.map((n) => n.info('server')));
  return infos.map((info) => Number(/process_id:(\d+)/.exec(info)?.[1])).filter((pid) => pid > 0);
}

/** CPU seconds of all Redis processes together; undefined when none can be read. */
function redisCpu(): number | undefined {
  let total = 0;
  for (const pid of redisProcesses) {
    const s = cpuSeconds(pid);
    if (s === undefined) return undefined;
    total += s;
  }
  return redisProcesses.length === 0 ? undefined : total;
}

async function run(a: Instance, b: Instance, sessions: number): Promise<Row> {
  const sids = await Promise.all(Array.from({ length: sessions }, () => initSession(a.url)));
  const before = { host: cpuSeconds(a.child.pid), relay: cpuSeconds(b.child.pid), redis: redisCpu(), loader: process.cpuUsage() };
  let next = 0;
  let lastId = 0;
  const result = await autocannon({
    url: `${b.url}/mcp`,
    connections: sessions,
    duration,
    pipelining: 1,
    requests: [
      {
        method: 'POST',
        setupRequest: (req: autocannon.Request, ctx: object) => {
          const context = ctx as Record<string, unknown>;
          context['sid'] ??= sids[next++ % sids.length];
          // Ids unique across connections: a reconnected connection gets a fresh context and may
          // share a session, and the server rightly refuses a duplicate in-flight id (409).
          const id = ++lastId;
          return {
            ...req,
            headers: { ...HEADERS, 'mcp-session-id': context['sid'] as string, 'mcp-protocol-version': '2025-11-25' },
            body: JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { message: 'bench' } } }),
          };
        },
      },
    ],
  });
  const n = result.requests.total || 1;
  if (result.errors + result.timeouts + result.non2xx > 0) {
    process.stderr.write(`errors in the ${sessions}-session run: ${JSON.stringify({ socketErrors: result.errors, timeouts: result.timeouts, non2xx: result.non2xx, statusCodes: result.statusCodeStats })}\n`);
  }
  const per = (x0: number | undefined, x1: number | undefined) => (x0 === undefined || x1 === undefined ? undefined : Math.round(((x1 - x0) * 1e6) / n));
  const loader = process.cpuUsage(before.loader);
  const host = per(before.host, cpuSeconds(a.child.pid));
  const relay = per(before.relay, cpuSeconds(b.child.pid));
  return {
    cpu:
      host === undefined || relay === undefined
        ? undefined
        : { host, relay, redis: per(before.redis, redisCpu()), loader: Math.round((loader.user + loader.system) / n) },
    lane: 'session',
    sessions,
    rps: Math.round(result.requests.average),
    p50: result.latency.p50,
    p90: result.latency.p90,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts + result.non2xx,
    total: result.requests.total,
  };
}

/** A 2026-07-28 `tools/call echo`: the per-request envelope and the standard headers, no session. */
const MODERN_HEADERS = { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'echo' };
const MODERN_META = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} };

/**
 * 2026-07-28 requests the instances have answered so far, by path: on a pooled server (`direct`) or
 * through the SDK's entry (`entry`), read from their /metrics. Undefined when a build has no such
 * counter (before the direct path) or /metrics is off.
 */
async function modernPaths(instances: Instance[]): Promise<{ direct: number; entry: number } | undefined> {
  const totals = { direct: 0, entry: 0 };
  let seen = false;
  const token = process.env['METRICS_TOKEN'];
  for (const i of instances) {
    const text = await fetch(`${i.url}/metrics`, token ? { headers: { authorization: `Bearer ${token}` } } : {}).then(
      (r) => (r.ok ? r.text() : ''),
      () => '',
    );
    for (const [, path, value] of text.matchAll(/^mcp_modern_requests_total\{path="(direct|entry)"\} (\d+)$/gm)) {
      totals[path as 'direct' | 'entry'] += Number(value);
      seen = true;
    }
  }
  return seen ? totals : undefined;
}

/** Stateless calls spread over both instances: with n clients, half on each (one client: on B). */
async function runModern(a: Instance, b: Instance, clients: number): Promise<Row> {
  const pathsBefore = await modernPaths([a, b]);
  const before = { a: cpuSeconds(a.child.pid), b: cpuSeconds(b.child.pid), redis: redisCpu(), loader: process.cpuUsage() };
  let lastId = 0;
  const drive = (target: Instance, connections: number) =>
    autocannon({
      url: `${target.url}/mcp`,
      connections,
      duration,
      pipelining: 1,
      requests: [
        {
          method: 'POST',
          setupRequest: (req: autocannon.Request) => ({
            ...req,
            headers: { ...HEADERS, ...MODERN_HEADERS },
            body: JSON.stringify({ jsonrpc: '2.0', id: ++lastId, method: 'tools/call', params: { name: 'echo', arguments: { message: 'bench' }, _meta: MODERN_META } }),
          }),
        },
      ],
    });
  const onA = Math.floor(clients / 2);
  const results = await Promise.all([drive(b, clients - onA), ...(onA > 0 ? [drive(a, onA)] : [])]);
  const n = results.reduce((t, r) => t + r.requests.total, 0) || 1;
  const errors = results.reduce((t, r) => t + r.errors + r.timeouts + r.non2xx, 0);
  if (errors > 0) process.stderr.write(`errors in the ${clients}-client modern run: ${JSON.stringify(results.map((r) => r.statusCodeStats))}\n`);
  const per = (x0: number | undefined, x1: number | undefined) => (x0 === undefined || x1 === undefined ? undefined : Math.round(((x1 - x0) * 1e6) / n));
  const loader = process.cpuUsage(before.loader);
  const cpuA = per(before.a, cpuSeconds(a.child.pid));
  const cpuB = per(before.b, cpuSeconds(b.child.pid));
  // Latency percentiles of the busier half (B); with an even split both halves match.
  const main = results[0]!;
  const pathsAfter = await modernPaths([a, b]);
  const served = pathsBefore && pathsAfter ? { direct: pathsAfter.direct - pathsBefore.direct, entry: pathsAfter.entry - pathsBefore.entry } : undefined;
  return {
    lane: 'modern',
    sessions: clients,
    // host/relay here: instance A and instance B, both serving.
    cpu: cpuA === undefined || cpuB === undefined ? undefined : { host: cpuA, relay: cpuB, redis: per(before.redis, redisCpu()), loader: Math.round((loader.user + loader.system) / n) },
    rps: Math.round(results.reduce((t, r) => t + r.requests.average, 0)),
    p50: main.latency.p50,
    p90: main.latency.p90,
    p99: main.latency.p99,
    errors,
    total: n,
    ...(served && served.direct + served.entry > 0 ? { direct: served.direct / (served.direct + served.entry) } : {}),
  };
}

/**
 * The same closed loop over WebSockets: one socket per session on B. B hosts the sessions of its
 * own sockets, so A idles; each call still crosses Redis twice (B → host B → B).
 */
async function runWs(a: Instance, b: Instance, sessions: number): Promise<Row> {
  const headers: Record<string, string> = HEADERS['authorization'] ? { authorization: HEADERS['authorization'] } : {};
  const sockets = await Promise.all(Array.from({ length: sessions }, () => openSession(b.url, headers)));
  const before = { host: cpuSeconds(a.child.pid), relay: cpuSeconds(b.child.pid), redis: redisCpu(), loader: process.cpuUsage() };
  const result = await runClosedLoop(sockets, duration);
  const n = result.total || 1;
  const per = (x0: number | undefined, x1: number | undefined) => (x0 === undefined || x1 === undefined ? undefined : Math.round(((x1 - x0) * 1e6) / n));
  const loader = process.cpuUsage(before.loader);
  const host = per(before.host, cpuSeconds(a.child.pid));
  const relay = per(before.relay, cpuSeconds(b.child.pid));
  for (const ws of sockets) ws.close();
  if (result.errors > 0) process.stderr.write(`errors in the ${sessions}-session WebSocket run: ${result.errors}\n`);
  return {
    lane: 'ws',
    cpu:
      host === undefined || relay === undefined
        ? undefined
        : { host, relay, redis: per(before.redis, redisCpu()), loader: Math.round((loader.user + loader.system) / n) },
    sessions,
    rps: Math.round(result.total / duration),
    p50: Math.round(percentile(result.latencies, 50)),
    p90: Math.round(percentile(result.latencies, 90)),
    p99: Math.round(percentile(result.latencies, 99)),
    errors: result.errors,
    total: result.total,
  };
}

async function main(): Promise<void> {
  // The same build as `npm run build` (which the Docker image runs).
  if (!values.tsx) execFileSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });
  const [portA, portB] = [await freePort(), await freePort()];
  const A = await startInstance('A', portA, `http://127.0.0.1:${portA}`);
  const B = await startInstance('B', portB, `http://127.0.0.1:${portA}`);
  if (authMode === 'integrated') HEADERS['authorization'] = `Bearer ${obtainToken(`${A.url}/mcp`)}`;
  const rows: Row[] = [];
  const inspect = await connectRedis(redisSettings, createLogger('silent'), `${prefix}-bench`);
  // Only local Redis processes can be measured; elsewhere the column stays empty.
  redisProcesses = await redisPids(inspect).catch(() => []);
  await inspect.close();
  try {
    for (const lane of lanes) {
      const runLane = lane === 'session' ? run : lane === 'modern' ? runModern : runWs;
      await runLane(A, B, 4).catch(() => undefined); // warm-up (JIT, connections)
      for (const n of sessionCounts) rows.push(await runLane(A, B, n));
    }
  } finally {
    for (const i of [A, B]) {
      i.child.kill('SIGTERM');
      await once(i.child, 'exit');
    }
    // The bench's sessions are never deleted: drop its whole prefix instead of waiting for their TTL.
    await removeKeysWithPrefix(redisSettings, prefix).catch((err: Error) => process.stderr.write(`could not remove bench keys: ${err.message}\n`));
  }
  if (values.json) {
    process.stdout.write(JSON.stringify(rows) + '\n');
    return;
  }
  process.stdout.write(
    `tools/call echo, ${duration}s closed loop per row, auth: ${authMode}, server: ${values.tsx ? 'tsx src/index.ts' : 'node dist/src/index.js'}, Redis: ${redisSettings.mode}\n` +
      'session lane (2025-11-25): initialize on A, calls on B (CPU: host = A, relay = B)\n' +
      'modern lane (2026-07-28): stateless calls, clients split over A and B (CPU: host = A, relay = B)\n' +
      'ws lane (2025-11-25 over /ws): one socket per session on B, which hosts them (CPU: host = A, idle; relay = B)\n',
  );
  process.stdout.write('lane     clients   req/s   p50 ms  p90 ms  p99 ms  errors   total | CPU µs/request: host relay redis loader\n');
  for (const r of rows) {
    const cpu = r.cpu ? `${r.cpu.host} ${r.cpu.relay} ${r.cpu.redis ?? '-'} ${r.cpu.loader}` : '-';
    const direct = r.direct === undefined ? '' : ` | direct path ${(r.direct * 100).toFixed(0)}%`;
    process.stdout.write(
      `${r.lane.padEnd(8)} ${String(r.sessions).padStart(7)} ${String(r.rps).padStart(7)} ${String(r.p50).padStart(8)} ${String(r.p90).padStart(7)} ${String(r.p99).padStart(7)} ${String(r.errors).padStart(7)} ${String(r.total).padStart(7)} | ${cpu}${direct}\n`,
    );
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
