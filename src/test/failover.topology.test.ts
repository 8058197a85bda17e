/**
 * A Redis master dies under load and a replica takes over — one of three masters of a Redis
 * Cluster, or the master of a Sentinel group. The instances must find the new master by
 * themselves, every session must go on (the requests in flight during the outage may fail: the
 * client sees 503 or 504 and retries), nothing may hang, and /ready must say 503 while the outage
 * lasts.
 *
 * Runs in the `cluster` and `sentinel` projects only (jest.topologies.config.js), each time on a
 * deployment of its own, so killing a master disturbs no other suite. FAILOVER_REPORT=1 prints
 * the figures (docs/deployment.md quotes them).
 */
import calculateSlot from 'cluster-key-slot';
import { userKey } from '../redis/keys.js';
import { startCluster, TOKENS, TOPOLOGY, type Cluster } from './cluster.js';
import { connectClient, initOnThenRoundRobin } from './mcpClient.js';
import {
  clusterMasterOf,
  createAclUser,
  sentinelMasterPort,
  startRedisCluster,
  startSentinelSet,
  type RedisDeployment,
} from './redisServers.js';

const HEADERS = {
  'Content-Type': 'application/json',
  Accept: 'application/json',
  Authorization: `Bearer ${TOKENS.alice}`,
};
/** A request that takes longer than this counts as hung. */
const HANG_MS = 15_000;
const SESSIONS = 12;

interface Outcome {
  session: number;
  start: number;
  end: number;
  status: number;
  /** The answer, when it was neither a success nor a retryable refusal (for the failure message). */
  body?: string;
}

async function rawInit(base: string): Promise<string> {
  const res = await fetch(`${base}/mcp`, {
    method: 'POST',
    headers: HEADERS,
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'failover', version: '1' } },
    }),
  });
  await res.text();
  const sid = res.headers.get('mcp-session-id');
  if (res.status !== 200 || !sid) throw new Error(`initialize failed: ${res.status}`);
  return sid;
}

/** One tools/call; its HTTP status, 0 when it hung or the connection failed, -1 for a wrong answer. */
async function call(base: string, sid: string, id: number): Promise<{ status: number; body?: string }> {
  try {
    const res = await fetch(`${base}/mcp`, {
      method: 'POST',
      headers: { ...HEADERS, 'Mcp-Session-Id': sid, 'Mcp-Protocol-Version': '2025-11-25' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id,
        method: 'tools/call',
        params: { name: 'echo', arguments: { message: `m${id}` } },
      }),
      signal: AbortSignal.timeout(HANG_MS),
    });
    const text = await res.text();
    const answer = (JSON.parse(text) as { result?: { content: Array<{ text: string }> } }).result?.content[0]?.text;
    if (res.status === 200 && answer === `Echo: m${id}`) return { status: 200 };
    return { status: res.status === 200 ? -1 : res.status, body: `${base}: ${text}` };
  } catch (err) {
    return { status: 0, body: `${base}: ${(err as Error).message}` };
  }
}

const ready = (base: string) =>
  fetch(`${base}/ready`).then(
    (r) => r.status,
    () => 0,
  );

describe(`failover of a Redis master (${TOPOLOGY})`, () => {
  let deployment: RedisDeployment;
  let c: Cluster;
  beforeAll(async () => {
    deployment =
      TOPOLOGY === 'cluster'
        ? await startRedisCluster({ nodeTimeoutMs: 1000 })
        : await startSentinelSet({ downAfterMs: 1000 });
    // As the least-privilege ACL user, like the other suites on these topologies.
    const credentials = await createAclUser(deployment, { name: 'mcp', password: 'failover-secret', patterns: ['t*'] });
    const env = { ...deployment.env, REDIS_URL: `redis://${credentials}@acl-credentials-only` };
    c = await startCluster(
      2,
      { RELAY_TIMEOUT_MS: '1000', READINESS_TIMEOUT_MS: '300' },
      { env, admin: deployment.env },
    );
  }, 60_000);
  afterAll(async () => {
    await c?.close();
    await deployment?.stop();
  }, 30_000);

  test('the instances follow the new master, sessions go on, nothing hangs, /ready reports the outage', async () => {
    const [A, B] = c.instances.map((i) => i.url) as [string, string];
    const sids = await Promise.all(Array.from({ length: SESSIONS }, (_, i) => rawInit(i % 2 === 0 ? A : B)));
    // An SDK client too, with its standalone GET stream open: it must not notice more than failed calls.
    const sdk = await connectClient(A, TOKENS.alice, initOnThenRoundRobin(A, [B, A]));

    const victim =
      TOPOLOGY === 'cluster'
        ? await clusterMasterOf(deployment, calculateSlot(c.keyspace.sessionMeta(userKey('alice'), sids[0]!)))
        : await sentinelMasterPort(deployment);

    const outcomes: Outcome[] = [];
    let stop = false;
    let nextId = 1;
    const loops = sids.map(async (sid, session) => {
      for (let n = 0; !stop; n++) {
        const start = Date.now();
        const { status, body } = await call(n % 2 === 0 ? A : B, sid, nextId++);
        outcomes.push({
          session,
          start,
          end: Date.now(),
          status,
          ...(status === 503 || status === 504 ? {} : { body }),
        });
        if (status !== 200) await new Promise((r) => setTimeout(r, 50)); // a client's back-off
      }
    });
    const sdkResults: Array<{ start: number; end: number; error?: string }> = [];
    const sdkLoop = (async () => {
      while (!stop) {
        const start = Date.now();
        const error = await sdk.client.callTool({ name: 'echo', arguments: { message: 'sdk' } }).then(
          () => undefined,
          (err: Error) => err.message,
        );
        sdkResults.push({ start, end: Date.now(), ...(error === undefined ? {} : { error }) });
        await new Promise((r) => setTimeout(r, 20));
      }
    })();

    await new Promise((r) => setTimeout(r, 1000));
    const killedAt = Date.now();
    await deployment.kill(victim);

    // While the outage lasts, /ready says so; it recovers without any restart.
    const readiness: Array<{ t: number; a: number; b: number }> = [];
    const deadline = killedAt + 45_000;
    for (;;) {
      const [a, b] = await Promise.all([ready(A), ready(B)]);
      readiness.push({ t: Date.now() - killedAt, a, b });
      const recent = outcomes.filter((o) => o.start > Date.now() - 500);
      // The SDK client's session counts too: its calls go one at a time, so one that timed out
      // during the outage can end after the raw sessions are back.
      const sdkLast = sdkResults.at(-1);
      const allBack =
        a === 200 &&
        b === 200 &&
        sids.every((_, s) => recent.some((o) => o.session === s && o.status === 200)) &&
        sdkLast !== undefined &&
        sdkLast.start > killedAt &&
        sdkLast.error === undefined;
      if (allBack) break;
      if (Date.now() > deadline) throw new Error(`no recovery within 45 s: ${JSON.stringify(readiness.slice(-3))}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const recoveredAt = Date.now();
    // Some more load after recovery: every request must succeed now.
    await new Promise((r) => setTimeout(r, 1500));
    stop = true;
    await Promise.all([...loops, sdkLoop]);

    const failed = outcomes.filter((o) => o.status !== 200);
    const lastFailure = Math.max(killedAt, ...failed.map((o) => o.end));
    if (process.env['FAILOVER_REPORT']) {
      const byStatus = failed.reduce<Record<number, number>>((m, o) => ((m[o.status] = (m[o.status] ?? 0) + 1), m), {});
      process.stdout.write(
        `${TOPOLOGY} failover: ${outcomes.length} requests, ${failed.length} failed ${JSON.stringify(byStatus)}, ` +
          `last failure ${lastFailure - killedAt} ms after the kill, all sessions back after ${recoveredAt - killedAt} ms, ` +
          `/ready 503 from ${readiness.find((r) => r.a !== 200 || r.b !== 200)?.t ?? '-'} ms to ${[...readiness].reverse().find((r) => r.a !== 200 || r.b !== 200)?.t ?? '-'} ms, ` +
          `slowest request ${Math.max(...outcomes.map((o) => o.end - o.start))} ms; SDK client: ${sdkResults.filter((x) => x.error).length}/${sdkResults.length} calls failed ` +
          JSON.stringify(
            sdkResults.filter((r) => r.error).map((r) => [r.start - killedAt, r.end - killedAt, r.error]),
          ) +
          '\n',
      );
    }

    // Nothing hung, nothing answered wrongly, and what failed failed retryably (503, 504; the
    // answers of anything else are shown), and only around the outage.
    expect(failed.filter((o) => o.status !== 503 && o.status !== 504)).toEqual([]);
    expect(failed.every((o) => o.end >= killedAt)).toBe(true);
    expect(outcomes.filter((o) => o.start > recoveredAt && o.status !== 200)).toEqual([]);
    // /ready reported the outage, and is ready again.
    expect(readiness.some((r) => r.a === 503 || r.b === 503)).toBe(true);
    // Every session goes on: the same session ids answer on both instances, the SDK client too.
    for (const sid of sids) {
      expect(await call(A, sid, nextId++)).toEqual({ status: 200 });
      expect(await call(B, sid, nextId++)).toEqual({ status: 200 });
    }
    // The SDK client's calls started after the recovery all succeeded (there were some), with the
    // failures, if any, shown with when they started relative to the kill.
    const sdkAfter = sdkResults.filter((r) => r.start > recoveredAt);
    expect(sdkAfter.length).toBeGreaterThan(0);
    expect(
      sdkAfter.filter((r) => r.error).map((r) => ({ ...r, start: r.start - killedAt, end: r.end - killedAt })),
    ).toEqual([]);
    await sdk.client.close();
  }, 90_000);
});
