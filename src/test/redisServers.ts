/**
 * Throwaway Redis deployments for the tests, made of Debian's `redis-server` on free loopback
 * ports: a Redis Cluster (masters with replicas), a Sentinel-managed master with a replica, and a
 * TLS-only server with a private CA. Each lives in its own temporary directory and is stopped,
 * with every process it started, by `stop()` — and on process exit if a run ends early.
 *
 * Timings are shortened (node timeout, down-after) so failovers happen within seconds.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis, type RedisOptions } from 'ioredis';

const run = promisify(execFile);
const HOST = '127.0.0.1';

/** Every redis-server still running, killed if this process exits without stopping them. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export interface RedisNode {
  port: number;
  process: ChildProcess;
}

export interface RedisDeployment {
  /** The settings a server instance needs to use it (REDIS_URL, REDIS_CLUSTER_NODES, …). */
  env: Record<string, string>;
  /** The data nodes (and sentinels, for Sentinel) by port. */
  nodes: RedisNode[];
  dir: string;
  /** Kills one node as abruptly as a crash (SIGKILL). */
  kill(port: number): Promise<void>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const srv = createServer().listen(0, HOST);
  await new Promise((r) => srv.once('listening', r));
  const { port } = srv.address() as AddressInfo;
  await new Promise((r) => srv.close(r));
  return port;
}

function startProcess(dir: string, port: number, args: string[]): RedisNode {
  const child = spawn('redis-server', args, { cwd: dir, stdio: 'ignore' });
  running.add(child);
  child.once('exit', () => running.delete(child));
  child.once('error', () => running.delete(child));
  return { port, process: child };
}

function dataNodeArgs(dir: string, port: number, extra: string[] = []): string[] {
  return [
    '--port',
    String(port),
    '--bind',
    HOST,
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    dir,
    '--logfile',
    join(dir, `redis-${port}.log`),
    ...extra,
  ];
}

/** Runs `probe` until it resolves true, for at most `ms`. */
async function until(what: string, ms: number, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** One short-lived connection for set-up checks. */
async function withClient<T>(options: RedisOptions, fn: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis({
    host: HOST,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    ...options,
  });
  r.on('error', () => undefined);
  try {
    await r.connect();
    return await fn(r);
  } finally {
    r.disconnect();
  }
}

/** The port accepts connections (a plain TCP probe: a refused ioredis connect lingers in jest). */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: HOST, port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

const answers =
  (port: number, options: RedisOptions = {}) =>
  async () =>
    (await listening(port)) && withClient({ port, ...options }, async (r) => (await r.ping()) === 'PONG');

/**
 * Starts a node and waits until it answers. A free port found by `freePort` may be taken by someone
 * else before redis-server binds it (other test runs share the machine): a node that exits instead
 * of answering is started again on fresh ports, a few times.
 */
async function startAnswering(what: string, start: () => Promise<RedisNode>): Promise<RedisNode> {
  for (let attempt = 1; ; attempt++) {
    const node = await start();
    const exited = new Promise<boolean>((resolve) => node.process.once('exit', () => resolve(false)));
    const deadline = Date.now() + 10_000;
    for (;;) {
      const up = await Promise.race([answers(node.port)().catch(() => false), exited]);
      if (up) return node;
      if (node.process.exitCode !== null || node.process.signalCode !== null) break;
      if (Date.now() > deadline) {
        node.process.kill('SIGKILL');
        throw new Error(`timed out waiting for ${what} (port ${node.port})`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    if (attempt >= 3) throw new Error(`${what} exited at start-up ${attempt} times (port ${node.port})`);
  }
}

function deployment(dir: string, nodes: RedisNode[], env: Record<string, string>): RedisDeployment {
  const kill = async (node: RedisNode) => {
    if (node.process.exitCode !== null || node.process.signalCode !== null) return;
    const exited = new Promise((r) => node.process.once('exit', r));
    node.process.kill('SIGKILL');
    await exited;
  };
  return {
    env,
    nodes,
    dir,
    async kill(port) {
      const node = nodes.find((n) => n.port === port);
      if (!node) throw new Error(`no node on port ${port}`);
      await kill(node);
    },
    async stop() {
      await Promise.all(nodes.map(kill));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Cleans up what was started so far when set-up fails half-way. */
async function guarded(
  dir: string,
  nodes: RedisNode[],
  setUp: () => Promise<RedisDeployment>,
): Promise<RedisDeployment> {
  try {
    return await setUp();
  } catch (err) {
    await deployment(dir, nodes, {}).stop();
    throw err;
  }
}

/**
 * The least-privilege ACL rule the server needs (docs/deployment.md recommends it): data commands,
 * pub/sub, scripts, MULTI, connection set-up, INFO for ioredis's ready check and, in a cluster,
 * CLUSTER SLOTS/INFO for the slot map; nothing of @dangerous (KEYS, FLUSHALL, CONFIG, CLIENT KILL…).
 */
export const SERVER_ACL_COMMANDS =
  '-@all +@read +@write +@pubsub +@scripting +@transaction +@connection -@dangerous +info +cluster|slots +cluster|info';

export interface AclUser {
  name: string;
  password: string;
  /** Key and channel patterns the user may touch, e.g. `mcp:*`. */
  patterns: string[];
}

/**
 * Creates the ACL user on every data node (ACL is per node, and a replica must know the user
 * before it is promoted), and returns REDIS_URL credentials for it (the host part is not used in
 * cluster and Sentinel mode).
 */
export async function createAclUser(
  deployment: RedisDeployment,
  user: AclUser,
  options: RedisOptions = {},
): Promise<string> {
  const sentinels = new Set((deployment.env['REDIS_SENTINELS'] ?? '').split(',').map((s) => Number(s.split(':')[1])));
  const rules = [
    'reset',
    'on',
    `>${user.password}`,
    ...user.patterns.flatMap((p) => [`~${p}`, `&${p}`]),
    ...SERVER_ACL_COMMANDS.split(' '),
  ];
  for (const node of deployment.nodes) {
    if (sentinels.has(node.port) || node.process.exitCode !== null) continue;
    await withClient({ port: node.port, ...options }, (r) => r.call('ACL', 'SETUSER', user.name, ...rules));
  }
  return `${user.name}:${encodeURIComponent(user.password)}`;
}

export interface ClusterOptions {
  masters?: number;
  replicasPerMaster?: number;
  /** cluster-node-timeout: how long a silent master takes to be declared failed. */
  nodeTimeoutMs?: number;
}

/** A Redis Cluster: `redis-cli --cluster create … --cluster-replicas N`, then waits until it is whole. */
export async function startRedisCluster(opts: ClusterOptions = {}): Promise<RedisDeployment> {
  const masters = opts.masters ?? 3;
  const replicas = opts.replicasPerMaster ?? 1;
  const dir = await mkdtemp(join(tmpdir(), 'mcp-redis-cluster-'));
  const nodes: RedisNode[] = [];
  return guarded(dir, nodes, async () => {
    const count = masters * (1 + replicas);
    for (let i = 0; i < count; i++) {
      nodes.push(
        await startAnswering(`cluster node ${i + 1}`, async () => {
          const [port, busPort] = [await freePort(), await freePort()];
          return startProcess(
            dir,
            port,
            dataNodeArgs(dir, port, [
              '--cluster-enabled',
              'yes',
              '--cluster-port',
              String(busPort),
              '--cluster-config-file',
              join(dir, `nodes-${port}.conf`),
              '--cluster-node-timeout',
              String(opts.nodeTimeoutMs ?? 1000),
            ]),
          );
        }),
      );
    }
    await run(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...nodes.map((n) => `${HOST}:${n.port}`),
        '--cluster-replicas',
        String(replicas),
        '--cluster-yes',
      ],
      {
        timeout: 60_000,
      },
    );
    // Whole = every node sees the full cluster in state ok, and every replica is in sync with its
    // master (a replica that never synced cannot be promoted).
    for (const n of nodes) {
      await until(`cluster state ok on ${n.port}`, 30_000, () =>
        withClient({ port: n.port }, async (r) => {
          const info = await r.cluster('INFO');
          const known = Number(/cluster_known_nodes:(\d+)/.exec(info)?.[1]);
          if (!info.includes('cluster_state:ok') || known !== count) return false;
          const repl = await r.info('replication');
          return repl.includes('role:master') || repl.includes('master_link_status:up');
        }),
      );
    }
    return deployment(dir, nodes, { REDIS_CLUSTER_NODES: nodes.map((n) => `${HOST}:${n.port}`).join(',') });
  });
}

/** The master currently serving a hash slot, by port. */
export async function clusterMasterOf(deployment: RedisDeployment, slot: number): Promise<number> {
  for (const n of deployment.nodes) {
    const slots = await withClient({ port: n.port }, (r) => r.cluster('SLOTS')).catch(() => undefined);
    const master = slots?.find(([from, to]) => slot >= from && slot <= to)?.[2];
    if (master) return Number(master[1]);
  }
  throw new Error(`no master found for slot ${slot}`);
}

export const SENTINEL_MASTER = 'mymaster';

export interface SentinelOptions {
  sentinels?: number;
  /** down-after-milliseconds: how long a silent master takes to be declared down. */
  downAfterMs?: number;
  /**
   * Wait until the sentinels found each other (through the master's hello channel, every 2 s):
   * needed before a failover can reach its quorum, not for serving clients.
   */
  waitForQuorum?: boolean;
}

/** A master, one replica and a set of sentinels (quorum = majority) monitoring them. */
export async function startSentinelSet(opts: SentinelOptions = {}): Promise<RedisDeployment> {
  const sentinelCount = opts.sentinels ?? 3;
  const dir = await mkdtemp(join(tmpdir(), 'mcp-redis-sentinel-'));
  const nodes: RedisNode[] = [];
  return guarded(dir, nodes, async () => {
    const [masterPort, replicaPort] = [await freePort(), await freePort()];
    nodes.push(startProcess(dir, masterPort, dataNodeArgs(dir, masterPort)));
    nodes.push(
      startProcess(dir, replicaPort, dataNodeArgs(dir, replicaPort, ['--replicaof', HOST, String(masterPort)])),
    );
    await until('replica in sync', 10_000, () =>
      withClient({ port: replicaPort }, async (r) => (await r.info('replication')).includes('master_link_status:up')),
    );
    const sentinelPorts: number[] = [];
    for (let i = 0; i < sentinelCount; i++) {
      const port = await freePort();
      const conf = join(dir, `sentinel-${port}.conf`);
      // Sentinel rewrites its config file as it learns: it must be a writable file of its own.
      await writeFile(
        conf,
        [
          `port ${port}`,
          `bind ${HOST}`,
          `dir ${dir}`,
          `logfile ${join(dir, `sentinel-${port}.log`)}`,
          `sentinel monitor ${SENTINEL_MASTER} ${HOST} ${masterPort} ${Math.floor(sentinelCount / 2) + 1}`,
          `sentinel down-after-milliseconds ${SENTINEL_MASTER} ${opts.downAfterMs ?? 1000}`,
          `sentinel failover-timeout ${SENTINEL_MASTER} 5000`,
          `sentinel parallel-syncs ${SENTINEL_MASTER} 1`,
          '',
        ].join('\n'),
      );
      nodes.push(startProcess(dir, port, [conf, '--sentinel']));
      sentinelPorts.push(port);
    }
    // Every sentinel answers for the master; with `waitForQuorum`, it also knows the replica and
    // the other sentinels, or a failover could not reach its quorum.
    const peers = opts.waitForQuorum === false ? 0 : sentinelCount - 1;
    for (const port of sentinelPorts) {
      await until(`sentinel ${port} to know its peers`, 20_000, () =>
        withClient({ port }, async (r) => {
          const flat = (await r.call('SENTINEL', 'MASTER', SENTINEL_MASTER)) as string[];
          const f = Object.fromEntries(flat.flatMap((v, i) => (i % 2 === 0 ? [[v, flat[i + 1]]] : [])));
          return Number(f['num-slaves']) === 1 && Number(f['num-other-sentinels']) >= peers;
        }),
      );
    }
    return deployment(dir, nodes, {
      REDIS_SENTINELS: sentinelPorts.map((p) => `${HOST}:${p}`).join(','),
      REDIS_SENTINEL_MASTER: SENTINEL_MASTER,
    });
  });
}

/** The port of the current master according to the first sentinel that answers. */
export async function sentinelMasterPort(deployment: RedisDeployment): Promise<number> {
  const sentinels = deployment.env['REDIS_SENTINELS']!.split(',').map((s) => Number(s.split(':')[1]));
  for (const port of sentinels) {
    const addr = await withClient(
      { port },
      (r) => r.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', SENTINEL_MASTER) as Promise<[string, string]>,
    ).catch(() => undefined);
    if (addr) return Number(addr[1]);
  }
  throw new Error('no sentinel answered');
}

export interface TlsServer extends RedisDeployment {
  port: number;
  /** PEM files of the throwaway CA (trusted by clients) and of a CA nobody trusts. */
  caFile: string;
  strangerCaFile: string;
}

/**
 * A TLS-only redis-server (no plain port) with a certificate from a throwaway CA made here with
 * openssl, for 127.0.0.1 and localhost. The default user keeps working for the test's own set-up.
 */
export async function startTlsRedis(): Promise<TlsServer> {
  const dir = await mkdtemp(join(tmpdir(), 'mcp-redis-tls-'));
  const nodes: RedisNode[] = [];
  const f = (name: string) => join(dir, name);
  let port = 0;
  const d = await guarded(dir, nodes, async () => {
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    for (const ca of ['ca', 'stranger']) {
      await run('openssl', [
        'req',
        '-x509',
        ...ec,
        '-keyout',
        f(`${ca}.key`),
        '-out',
        f(`${ca}.crt`),
        '-days',
        '1',
        '-subj',
        `/CN=mcp test ${ca} CA`,
      ]);
    }
    await run('openssl', ['req', ...ec, '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=localhost']);
    await writeFile(f('san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
    await run('openssl', [
      'x509',
      '-req',
      '-in',
      f('server.csr'),
      '-CA',
      f('ca.crt'),
      '-CAkey',
      f('ca.key'),
      '-CAcreateserial',
      '-out',
      f('server.crt'),
      '-days',
      '1',
      '-extfile',
      f('san.ext'),
    ]);
    port = await freePort();
    nodes.push(
      startProcess(
        dir,
        port,
        dataNodeArgs(dir, 0, [
          '--tls-port',
          String(port),
          '--tls-cert-file',
          f('server.crt'),
          '--tls-key-file',
          f('server.key'),
          '--tls-ca-cert-file',
          f('ca.crt'),
          // Clients authenticate with an ACL user, not a client certificate.
          '--tls-auth-clients',
          'no',
        ]),
      ),
    );
    nodes[0]!.port = port;
    await until('TLS redis-server', 10_000, answers(port, { tls: { ca: await readFile(f('ca.crt')) } }));
    return deployment(dir, nodes, { REDIS_URL: `rediss://${HOST}:${port}`, REDIS_TLS_CA_FILE: f('ca.crt') });
  });
  return { ...d, port, caFile: f('ca.crt'), strangerCaFile: f('stranger.crt') };
}
