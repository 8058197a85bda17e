/**
 * `npm run bench`: server instances on Redis, closed-loop `tools/call echo` on each protocol lane,
 * in deployment profiles, beside a floor measured in the same run:
 *   - floor: a trivial relay through two Redis pub/sub hops (src/bench/floor.ts), nothing else;
 *   - profiles (--profile, comma-separated; default bare,production):
 *       bare:            AUTH_MODE=none, rate limits off, LOG_LEVEL=warn;
 *       production:      integrated auth with a token from the real login/consent flow, rate limits
 *                        on with a budget the load cannot exhaust, access log at info to a file;
 *       production-warn: production at LOG_LEVEL=warn (what the access log costs).
 * Every process is up for the whole run; the rows alternate floor, bare, production… per client
 * count, so each ratio to the floor compares runs seconds apart on the same machine.
 *
 * Lanes (--lane session|modern|ws|both|all, comma-separated; default both = session,modern):
 *   - session (2025-11-25): sessions initialized on instance A, calls driven at instance B, so
 *     every call crosses Redis twice (B → host A → B), like the floor;
 *   - modern (2026-07-28): stateless requests, no Redis hop; the clients are spread over both
 *     instances (one client: on B; 16: 8 on A, 8 on B), since any instance answers any request;
 *   - ws (2025-11-25 over WebSocket): one socket per session on B's /ws; B hosts the sessions of its
 *     own sockets, so A idles and each call crosses Redis twice within B.
 * Prints req/s, the ratio to the floor (session and ws rows), latency percentiles, Redis commands
 * per call (INFO commandstats; commands run inside scripts count too, and are listed), and CPU per
 * request of every process. Flags: --duration <s> (default 10), --sessions 1,16 (clients), --json,
 * --tsx (run the TypeScript sources through tsx, as `npm start` does, instead of the compiled build).
 *
 * Redis: a private `redis-server` started for the run (so the command counts are the bench's own),
 * unless REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS name one (then used as the server reads
 * them), or --shared-redis (127.0.0.1:6379). The instances run the compiled server (`npm run build`,
 * then `dist/src/index.js`), which is what production runs (docs/deploy/Dockerfile).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import type { Cluster } from 'ioredis';
import { loadConfig } from '../config.js';
import { createLogger } from '../observability/logger.js';
import { connectRedis, type RedisConnections } from '../redis/connections.js';
import { removeKeysWithPrefix } from '../redis/removePrefix.js';
import { openSession, percentile, runClosedLoop } from './wsLoad.js';
import { freePort } from './freePort.js';

// `--memory`: the sessions-and-memory bench (src/bench/sessions.ts) runs instead; it exits the process.
if (process.argv.includes('--memory')) await new Promise<never>(() => void import('./sessions.js'));

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    sessions: { type: 'string', default: '1,16' },
    json: { type: 'boolean', default: false },
    profile: { type: 'string', default: 'bare,production' },
    'shared-redis': { type: 'boolean', default: false },
    tsx: { type: 'boolean', default: false },
    lane: { type: 'string', default: 'both' },
  },
});
type Lane = 'session' | 'modern' | 'ws';
const LANES: readonly Lane[] = ['session', 'modern', 'ws'];
const lanes = [
  ...new Set(
    values.lane.split(',').flatMap((l) => (l === 'both' ? ['session', 'modern'] : l === 'all' ? [...LANES] : [l])),
  ),
] as Lane[];
if (lanes.length === 0 || lanes.some((l) => !LANES.includes(l)))
  throw new Error('--lane takes session, modern, ws, both or all (comma-separated)');

/** Environment of each profile's instances; `logFile`: stdout (the access log) goes to a file. */
const PROFILES: Record<string, { env: Record<string, string>; logFile: boolean }> = {
  bare: { env: { AUTH_MODE: 'none', RATE_LIMIT_ENABLED: 'false', LOG_LEVEL: 'warn' }, logFile: false },
  production: {
    env: {
      AUTH_MODE: 'integrated',
      RATE_LIMIT_ENABLED: 'true',
      // A budget the load cannot exhaust: every check runs, none refuses.
      RATE_LIMIT_WINDOW_SECONDS: '60',
      RATE_LIMIT_PER_USER: '1000000',
      RATE_LIMIT_PER_ADDRESS: '1000000',
      LOG_LEVEL: 'info',
    },
    logFile: true,
  },
};
PROFILES['production-warn'] = { env: { ...PROFILES['production']!.env, LOG_LEVEL: 'warn' }, logFile: true };
const profiles = [...new Set(values.profile.split(','))];
if (profiles.length === 0 || profiles.some((p) => !(p in PROFILES)))
  throw new Error(`--profile takes ${Object.keys(PROFILES).join(', ')} (comma-separated)`);
const duration = Number(values.duration);
const sessionCounts = values.sessions.split(',').map(Number);
const ownRedis =
  !process.env['REDIS_URL'] &&
  !process.env['REDIS_CLUSTER_NODES'] &&
  !process.env['REDIS_SENTINELS'] &&
  !values['shared-redis'];
/** The Redis every process uses; REDIS_URL is fixed in main() when the bench starts its own. */
let REDIS_ENV: Record<string, string> = {};
/** The local Redis processes (every node of a cluster), whose CPU the rows report; set in main(). */
let redisProcesses: number[] = [];
const prefix = `bench${process.pid}`;
const HEADERS: Record<string, string> = {
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
};

/** Runs the real OAuth flow (scratch/oauth-flow.ts: registration, login and consent by form posts, token). */
function obtainToken(mcpUrl: string): string {
  const out = execFileSync(process.execPath, ['--import', 'tsx', 'scratch/oauth-flow.ts', '--url', mcpUrl], {
    encoding: 'utf8',
  });
  const token = out.trim().split('\n').pop();
  if (!token) throw new Error('no token from scratch/oauth-flow.ts');
  return token;
}

/** Two server instances of one profile (or the floor's relay and host) and what the calls carry. */
interface Target {
  profile: string;
  /** A: hosts the sessions. B: receives the calls. */
  a: Proc;
  b: Proc;
  /** Headers every call carries (the bearer token in the production profiles). */
  headers: Record<string, string>;
  logFiles: string[];
}

interface Proc {
  url: string;
  child: ChildProcess;
}

function nodeArgs(): string[] {
  // BENCH_NODE_ARGS passes flags to the instances, e.g. --cpu-prof --cpu-prof-dir=/tmp/prof.
  return (process.env['BENCH_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
}

async function startInstance(
  profile: string,
  name: string,
  port: number,
  baseUri: string,
  logFile: string | undefined,
): Promise<Proc> {
  const entry = values.tsx ? ['--import', 'tsx', 'src/index.ts'] : ['dist/src/index.js'];
  const out = logFile === undefined ? 'ignore' : openSync(logFile, 'w');
  const child = spawn(process.execPath, [...nodeArgs(), ...entry], {
    env: {
      ...process.env,
      ...REDIS_ENV,
      REDIS_PREFIX: `${prefix}-${profile}`,
      PORT: String(port),
      HOST: '127.0.0.1',
      // One public URL for both, as behind a load balancer: the token's audience holds on either.
      BASE_URI: baseUri,
      OAUTH_RATE_LIMIT_RELAXED: 'true',
      RESOURCE_UPDATE_INTERVAL_MS: '0',
      ...PROFILES[profile]!.env,
    },
    stdio: ['ignore', out, 'inherit'],
  });
  if (typeof out === 'number') closeSync(out);
  return waitUp(`${profile} ${name}`, child, `http://127.0.0.1:${port}`, '/health');
}

async function waitUp(name: string, child: ChildProcess, url: string, probe: string): Promise<Proc> {
  let exited = false;
  child.once('exit', () => (exited = true));
  for (;;) {
    if (exited) throw new Error(`${name} exited during start-up`);
    const up = await fetch(
      `${url}${probe}`,
      probe === '/health' ? {} : { method: 'POST', body: '{"jsonrpc":"2.0","id":0,"method":"ping"}' },
    ).then(
      (r) => r.ok,
      () => false,
    );
    if (up) return { url, child };
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function startProfile(profile: string): Promise<Target> {
  const [portA, portB] = [await freePort(), await freePort()];
  const logFiles = PROFILES[profile]!.logFile
    ? ['A', 'B'].map((n) => join(tmpdir(), `${prefix}-${profile}-${n}.log`))
    : [];
  const a = await startInstance(profile, 'A', portA, `http://127.0.0.1:${portA}`, logFiles[0]);
  const b = await startInstance(profile, 'B', portB, `http://127.0.0.1:${portA}`, logFiles[1]);
  const headers = { ...HEADERS };
  if (PROFILES[profile]!.env['AUTH_MODE'] === 'integrated')
    headers['authorization'] = `Bearer ${obtainToken(`${a.url}/mcp`)}`;
  return { profile, a, b, headers, logFiles };
}

async function startFloor(): Promise<Target> {
  const entry = values.tsx ? ['--import', 'tsx', 'src/bench/floor.ts'] : ['dist/src/bench/floor.js'];
  const redisUrl = REDIS_ENV['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
  const port = await freePort();
  const spawnFloor = (args: string[]) =>
    spawn(process.execPath, [...nodeArgs(), ...entry, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const host = spawnFloor(['host', redisUrl, prefix]);
  await once(host.stdout, 'data');
  const relay = spawnFloor(['relay', String(port), redisUrl, prefix]);
  const b = await waitUp('floor relay', relay, `http://127.0.0.1:${port}`, '/');
  return { profile: 'floor', a: { url: '', child: host }, b, headers: HEADERS, logFiles: [] };
}

interface Row {
  profile: string;
  lane: Lane;
  sessions: number;
  rps: number;
  /** req/s relative to the floor's row with as many clients in this run (session and ws lanes). */
  ofFloor?: number;
  p50: number;
  p90: number;
  p99: number;
  errors: number;
  total: number;
  /** CPU time per request (µs) of each process; robust to other load on the machine, unlike req/s. */
  cpu?: { host: number; relay: number; redis?: number; loader: number };
  /** Redis commands per call (INFO commandstats, those run inside scripts included), by command. */
  redis?: Record<string, number>;
  /** Bytes the instances wrote to their logs per call (profiles that log to a file). */
  logBytes?: number;
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
  const infos = await Promise.all(redisNodes(redis).map((n) => n.info('server')));
  return infos.map((info) => Number(/process_id:(\d+)/.exec(info)?.[1])).filter((pid) => pid > 0);
}

function redisNodes(redis: RedisConnections) {
  return redis.mode === 'cluster' ? (redis.command as unknown as Cluster).nodes('master') : [redis.command];
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

/** Calls per command so far, summed over the masters (INFO commandstats); the INFO calls themselves left out. */
async function commandCalls(redis: RedisConnections): Promise<Map<string, number>> {
  const calls = new Map<string, number>();
  for (const info of await Promise.all(redisNodes(redis).map((n) => n.info('commandstats')))) {
    for (const [, name, n] of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
      if (name === 'info') continue;
      calls.set(name!, (calls.get(name!) ?? 0) + Number(n));
    }
  }
  return calls;
}

function logBytes(t: Target): number {
  return t.logFiles.reduce((sum, f) => sum + statSync(f).size, 0);
}

/** Measures one row: `load` drives the calls and returns the latency figures and the call count. */
async function measure(
  t: Target,
  lane: Lane,
  sessions: number,
  load: () => Promise<{
    total: number;
    rps: number;
    p50: number;
    p90: number;
    p99: number;
    errors: number;
    direct?: number;
  }>,
): Promise<Row> {
  const before = {
    host: cpuSeconds(t.a.child.pid),
    relay: cpuSeconds(t.b.child.pid),
    redis: redisCpu(),
    loader: process.cpuUsage(),
    commands: await commandCalls(inspect!),
    log: logBytes(t),
  };
  const r = await load();
  const n = r.total || 1;
  const per = (x0: number | undefined, x1: number | undefined) =>
    x0 === undefined || x1 === undefined ? undefined : Math.round(((x1 - x0) * 1e6) / n);
  const loader = process.cpuUsage(before.loader);
  const host = per(before.host, cpuSeconds(t.a.child.pid));
  const relay = per(before.relay, cpuSeconds(t.b.child.pid));
  const redisCpuPer = per(before.redis, redisCpu());
  const after = await commandCalls(inspect!);
  const redis: Record<string, number> = {};
  for (const [name, calls] of after) {
    const d = (calls - (before.commands.get(name) ?? 0)) / n;
    if (d >= 0.005) redis[name] = Math.round(d * 100) / 100;
  }
  if (r.errors > 0) process.stderr.write(`errors in the ${t.profile} ${lane} ${sessions}-client row: ${r.errors}\n`);
  return {
    profile: t.profile,
    lane,
    sessions,
    rps: r.rps,
    p50: r.p50,
    p90: r.p90,
    p99: r.p99,
    errors: r.errors,
    total: r.total,
    ...(host === undefined || relay === undefined
      ? {}
      : { cpu: { host, relay, redis: redisCpuPer, loader: Math.round((loader.user + loader.system) / n) } }),
    redis,
    ...(t.logFiles.length > 0 ? { logBytes: Math.round((logBytes(t) - before.log) / n) } : {}),
    ...(r.direct === undefined ? {} : { direct: r.direct }),
  };
}

async function initSession(base: string, headers: Record<string, string>): Promise<string> {
  const res = await fetch(`${base}/mcp`, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'bench', version: '1' } },
    }),
  });
  await res.text();
  const sid = res.headers.get('mcp-session-id');
  if (!sid) throw new Error(`initialize failed: ${res.status}`);
  await fetch(`${base}/mcp`, {
    method: 'POST',
    headers: { ...headers, 'mcp-session-id': sid },
    body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
  });
  return sid;
}

function autocannonFigures(results: autocannon.Result[]) {
  const main = results[0]!;
  return {
    total: results.reduce((t, r) => t + r.requests.total, 0),
    rps: Math.round(results.reduce((t, r) => t + r.requests.average, 0)),
    // Latency percentiles of the first (busier) half; with an even split both halves match.
    p50: main.latency.p50,
    p90: main.latency.p90,
    p99: main.latency.p99,
    errors: results.reduce((t, r) => t + r.errors + r.timeouts + r.non2xx, 0),
  };
}

/** Session lane (and the floor): sessions on A, calls at B, one connection per session. */
function run(t: Target, sessions: number): Promise<Row> {
  return measure(t, 'session', sessions, async () => {
    const sids =
      t.profile === 'floor'
        ? []
        : await Promise.all(Array.from({ length: sessions }, () => initSession(t.a.url, t.headers)));
    let next = 0;
    let lastId = 0;
    const result = await autocannon({
      url: `${t.b.url}/mcp`,
      connections: sessions,
      duration,
      pipelining: 1,
      requests: [
        {
          method: 'POST',
          setupRequest: (req: autocannon.Request, ctx: object) => {
            const context = ctx as Record<string, unknown>;
            context['sid'] ??= sids.length === 0 ? 'floor' : sids[next++ % sids.length];
            // Ids unique across connections: a reconnected connection gets a fresh context and may
            // share a session, and the server rightly refuses a duplicate in-flight id (409).
            const id = ++lastId;
            return {
              ...req,
              headers: {
                ...t.headers,
                'mcp-session-id': context['sid'] as string,
                'mcp-protocol-version': '2025-11-25',
              },
              body: JSON.stringify({
                jsonrpc: '2.0',
                id,
                method: 'tools/call',
                params: { name: 'echo', arguments: { message: 'bench' } },
              }),
            };
          },
        },
      ],
    });
    if (result.errors + result.timeouts + result.non2xx > 0) {
      process.stderr.write(
        `${JSON.stringify({ socketErrors: result.errors, timeouts: result.timeouts, non2xx: result.non2xx, statusCodes: result.statusCodeStats })}\n`,
      );
    }
    return autocannonFigures([result]);
  });
}

/** A 2026-07-28 `tools/call echo`: the per-request envelope and the standard headers, no session. */
const MODERN_HEADERS = { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'echo' };
const MODERN_META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientCapabilities': {},
};

/**
 * 2026-07-28 requests the instances have answered so far, by path: on a pooled server (`direct`) or
 * through the SDK's entry (`entry`), read from their /metrics. Undefined when a build has no such
 * counter (before the direct path) or /metrics is off.
 */
async function modernPaths(instances: Proc[]): Promise<{ direct: number; entry: number } | undefined> {
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
function runModern(t: Target, clients: number): Promise<Row> {
  return measure(t, 'modern', clients, async () => {
    const pathsBefore = await modernPaths([t.a, t.b]);
    let lastId = 0;
    const drive = (target: Proc, connections: number) =>
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
              headers: { ...t.headers, ...MODERN_HEADERS },
              body: JSON.stringify({
                jsonrpc: '2.0',
                id: ++lastId,
                method: 'tools/call',
                params: { name: 'echo', arguments: { message: 'bench' }, _meta: MODERN_META },
              }),
            }),
          },
        ],
      });
    const onA = Math.floor(clients / 2);
    const results = await Promise.all([drive(t.b, clients - onA), ...(onA > 0 ? [drive(t.a, onA)] : [])]);
    const pathsAfter = await modernPaths([t.a, t.b]);
    const served =
      pathsBefore && pathsAfter
        ? { direct: pathsAfter.direct - pathsBefore.direct, entry: pathsAfter.entry - pathsBefore.entry }
        : undefined;
    return {
      ...autocannonFigures(results),
      ...(served && served.direct + served.entry > 0 ? { direct: served.direct / (served.direct + served.entry) } : {}),
    };
  });
}

/**
 * The same closed loop over WebSockets: one socket per session on B. B hosts the sessions of its
 * own sockets, so A idles; each call still crosses Redis twice (B → host B → B).
 */
function runWs(t: Target, sessions: number): Promise<Row> {
  return measure(t, 'ws', sessions, async () => {
    const headers: Record<string, string> = t.headers['authorization']
      ? { authorization: t.headers['authorization'] }
      : {};
    const sockets = await Promise.all(Array.from({ length: sessions }, () => openSession(t.b.url, headers)));
    const result = await runClosedLoop(sockets, duration);
    for (const ws of sockets) ws.close();
    return {
      total: result.total,
      rps: Math.round(result.total / duration),
      p50: Math.round(percentile(result.latencies, 50)),
      p90: Math.round(percentile(result.latencies, 90)),
      p99: Math.round(percentile(result.latencies, 99)),
      errors: result.errors,
    };
  });
}

let inspect: RedisConnections | undefined;

/** A private redis-server on a free port, for the run only (no persistence). */
async function startRedis(): Promise<ChildProcess> {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  REDIS_ENV = { REDIS_URL: `redis://127.0.0.1:${port}` };
  for (let i = 0; ; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const c = connect(port, '127.0.0.1', () => (c.destroy(), resolve(true)));
      c.once('error', () => resolve(false));
    });
    if (up) return child;
    if (i > 50 || child.exitCode !== null)
      throw new Error('could not start redis-server (is it installed? or pass --shared-redis / REDIS_URL)');
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function main(): Promise<void> {
  // The same build as `npm run build` (which the Docker image runs).
  if (!values.tsx) execFileSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });
  const redisServer = ownRedis ? await startRedis() : undefined;
  if (!ownRedis && !process.env['REDIS_CLUSTER_NODES'] && !process.env['REDIS_SENTINELS'])
    REDIS_ENV = { REDIS_URL: process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379' };
  const redisSettings = loadConfig({ ...process.env, ...REDIS_ENV }).redis;
  inspect = await connectRedis(redisSettings, createLogger('silent'), `${prefix}-bench`);
  // Only local Redis processes can be measured; elsewhere the column stays empty.
  redisProcesses = await redisPids(inspect).catch(() => []);
  const targets: Target[] = [];
  const rows: Row[] = [];
  try {
    // The floor is a two-hop relay: it stands beside the lanes that cross Redis twice.
    if (lanes.includes('session') || lanes.includes('ws')) targets.push(await startFloor());
    for (const p of profiles) targets.push(await startProfile(p));
    for (const lane of lanes) {
      const runLane = lane === 'session' ? run : lane === 'modern' ? runModern : runWs;
      const laneTargets = targets.filter((t) => t.profile !== 'floor' || lane !== 'modern');
      // Warm-up (JIT, connections); the floor stands in for the ws lane with its HTTP loop.
      for (const t of laneTargets) await (t.profile === 'floor' ? run : runLane)(t, 4).catch(() => undefined);
      for (const n of sessionCounts) {
        let floor: Row | undefined;
        for (const t of laneTargets) {
          const row = await (t.profile === 'floor' ? run : runLane)(t, n);
          if (t.profile === 'floor') floor = row;
          else if (floor && lane !== 'modern') row.ofFloor = Math.round((row.rps / floor.rps) * 100) / 100;
          if (t.profile !== 'floor' || !rows.some((r) => r.profile === 'floor' && r.sessions === n)) rows.push(row);
        }
      }
    }
  } finally {
    for (const t of targets) {
      for (const p of [t.a, t.b]) {
        if (p.child.exitCode !== null) continue;
        p.child.kill('SIGTERM');
        await once(p.child, 'exit');
      }
      for (const f of t.logFiles) rmSync(f, { force: true });
    }
    await inspect.close();
    if (redisServer) {
      redisServer.kill('SIGTERM');
      await once(redisServer, 'exit');
    } else {
      // The bench's sessions are never deleted: drop its whole prefix instead of waiting for their TTL.
      await removeKeysWithPrefix(redisSettings, prefix).catch((err: Error) =>
        process.stderr.write(`could not remove bench keys: ${err.message}\n`),
      );
    }
  }
  if (values.json) {
    process.stdout.write(JSON.stringify(rows) + '\n');
    return;
  }
  process.stdout.write(
    `tools/call echo, ${duration}s closed loop per row, server: ${values.tsx ? 'tsx src/index.ts' : 'node dist/src/index.js'}, Redis: ${redisSettings.mode}${ownRedis ? ' (private redis-server)' : ''}\n` +
      'floor: node:http relay → PUBLISH → host → PUBLISH → relay (src/bench/floor.ts); CPU: host, relay\n' +
      'session lane (2025-11-25): initialize on A, calls on B (CPU: host = A, relay = B)\n' +
      'modern lane (2026-07-28): stateless calls, clients split over A and B (CPU: host = A, relay = B)\n' +
      'ws lane (2025-11-25 over /ws): one socket per session on B, which hosts them (CPU: host = A, idle; relay = B)\n' +
      'profiles: ' +
      profiles
        .map(
          (p) =>
            `${p} (${Object.entries(PROFILES[p]!.env)
              .map(([k, v]) => `${k}=${v}`)
              .join(' ')}${PROFILES[p]!.logFile ? ', stdout to a file' : ''})`,
        )
        .join('; ') +
      '\n',
  );
  process.stdout.write(
    'profile          lane     clients   req/s  ×floor  p50 ms  p90 ms  p99 ms  errors   total | redis cmds/call | CPU µs/request: host relay redis loader\n',
  );
  for (const r of rows) {
    const cpu = r.cpu ? `${r.cpu.host} ${r.cpu.relay} ${r.cpu.redis ?? '-'} ${r.cpu.loader}` : '-';
    const cmds = r.redis
      ? Object.values(r.redis)
          .reduce((a, b) => a + b, 0)
          .toFixed(2)
      : '-';
    const direct = r.direct === undefined ? '' : ` | direct path ${(r.direct * 100).toFixed(0)}%`;
    process.stdout.write(
      `${r.profile.padEnd(16)} ${r.lane.padEnd(8)} ${String(r.sessions).padStart(7)} ${String(r.rps).padStart(7)} ${(r.ofFloor === undefined ? '' : r.ofFloor.toFixed(2)).padStart(7)} ${String(r.p50).padStart(7)} ${String(r.p90).padStart(7)} ${String(r.p99).padStart(7)} ${String(r.errors).padStart(7)} ${String(r.total).padStart(7)} | ${cmds.padStart(15)} | ${cpu}${direct}\n`,
    );
  }
  process.stdout.write('\nRedis commands per call, by command (those run inside scripts included):\n');
  for (const r of rows) {
    if (!r.redis) continue;
    const list = Object.entries(r.redis)
      .sort((x, y) => y[1] - x[1])
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    process.stdout.write(
      `  ${r.profile} ${r.lane} ${r.sessions}: ${list}${r.logBytes === undefined ? '' : ` | log bytes/call ${r.logBytes}`}\n`,
    );
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
