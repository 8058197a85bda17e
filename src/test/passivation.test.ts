/**
 * Passivation across two instances on a real Redis: A hosts ten sessions with room for three
 * servers in memory, B holds their GET streams and receives their calls. Every session keeps
 * working as if nothing left memory: its GET stream, the log level and subscriptions set before,
 * its declared capabilities, requests in flight while others are evicted, a pending elicitation.
 */
import type { CallToolResult, Client } from '@modelcontextprotocol/client';
import type { Counter } from 'prom-client';
import { sessionOwnerKey } from '../redis/keys.js';
import type { SessionRef } from '../routing/sessionStore.js';
import { startCluster, TOKENS, type Cluster } from './cluster.js';
import { connectClient, initOnThenRoundRobin } from './mcpClient.js';

const MAX_LIVE = 3;
const text = (r: unknown) => ((r as CallToolResult).content[0] as { text: string }).text;
const counted = async (c: Counter) => (await c.get()).values[0]?.value ?? 0;

async function until(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface Session {
  client: Client;
  ref: SessionRef;
}

describe('passivation on two instances (MAX_LIVE_SESSIONS_PER_INSTANCE=3)', () => {
  let c: Cluster;
  let A: string;
  let B: string;
  const sessions: Session[] = [];
  beforeAll(async () => {
    c = await startCluster(2, { MAX_LIVE_SESSIONS_PER_INSTANCE: String(MAX_LIVE), RESOURCE_UPDATE_INTERVAL_MS: '0' });
    [A, B] = c.instances.map((i) => i.url) as [string, string];
  });
  afterAll(async () => {
    await Promise.all(sessions.map((s) => s.client.close()));
    await c.close();
  });

  /** initialize on A (A hosts), everything after it (calls, the GET stream) on B. */
  async function open(capabilities = {}): Promise<Session> {
    const { client, transport } = await connectClient(A, TOKENS.alice, initOnThenRoundRobin(A, [B]), capabilities);
    const s = { client, ref: { u: sessionOwnerKey('alice', 'test-client'), sessionId: transport.sessionId! } };
    sessions.push(s);
    return s;
  }
  const hostA = () => c.instances[0]!.routing;
  const getStreamOpen = (s: Session) => async () =>
    (await c.redis.exists(c.keyspace.sessionGetStream(s.ref.u, s.ref.sessionId))) === 1;
  const publishEvent = (event: object) =>
    c.instances[1]!.routing.bus.publish(c.keyspace.serverEvents(), JSON.stringify(event));

  test('ten sessions, three in memory: all keep working, with the GET stream, log level, subscription and capabilities set before', async () => {
    const passivatedBefore = await counted(c.instances[0]!.metrics.sessionsPassivated);
    const first = await open({ sampling: {} });
    const uri = 'test://static/resource/5';
    const updates: string[] = [];
    const listChanges: number[] = [];
    const logs: string[] = [];
    first.client.setNotificationHandler('notifications/resources/updated', (n) => void updates.push(n.params.uri));
    first.client.setNotificationHandler('notifications/tools/list_changed', () => void listChanges.push(1));
    first.client.setNotificationHandler('notifications/message', (n) => void logs.push(String(n.params.data)));
    first.client.setRequestHandler('sampling/createMessage', async () => ({
      role: 'assistant',
      content: { type: 'text', text: 'sampled' },
      model: 'm',
    }));
    await first.client.setLoggingLevel('error');
    await first.client.subscribeResource({ uri });
    await until('the GET stream on B', getStreamOpen(first));

    for (let i = 0; i < 9; i++) await open();
    expect(hostA().hostedCount).toBe(10);
    expect(hostA().liveCount).toBe(MAX_LIVE);
    expect(hostA().isLive(first.ref)).toBe(false);

    // Passivated, yet its GET stream (on B) gets the change events it asked for.
    await publishEvent({ kind: 'resource_updated', uri: 'test://static/resource/6' });
    await publishEvent({ kind: 'resource_updated', uri });
    await publishEvent({ kind: 'tools_list_changed' });
    await until('the notifications on the GET stream', () => updates.length === 1 && listChanges.length === 1);
    expect(updates).toEqual([uri]);
    expect(hostA().isLive(first.ref)).toBe(false);

    // Every session answers, each call waking it and putting another to sleep.
    for (const [i, s] of sessions.entries()) {
      expect(text(await s.client.callTool({ name: 'echo', arguments: { message: `s${i}` } }))).toBe(`Echo: s${i}`);
      expect(hostA().liveCount).toBeLessThanOrEqual(MAX_LIVE);
    }
    // The rebuilt server still filters its logs by the level set before (error: no info logs)...
    const logged = await first.client.callTool({ name: 'test_tool_with_logging', arguments: {} });
    expect(text(logged)).toContain('successfully');
    expect(logs).toEqual([]);
    // ...and still knows the client declared sampling.
    expect(text(await first.client.callTool({ name: 'sampleLLM', arguments: { prompt: 'still there?' } }))).toContain(
      'sampled',
    );

    // Woken and put to sleep again, the subscription still holds, and so does the GET stream.
    for (const s of sessions.slice(1, 1 + MAX_LIVE))
      await s.client.callTool({ name: 'echo', arguments: { message: 'x' } });
    expect(hostA().isLive(first.ref)).toBe(false);
    await publishEvent({ kind: 'resource_updated', uri });
    await until('the second update', () => updates.length === 2);
    expect(await getStreamOpen(first)()).toBe(true);

    expect((await counted(c.instances[0]!.metrics.sessionsPassivated)) - passivatedBefore).toBeGreaterThanOrEqual(10);
    expect(await counted(c.instances[0]!.metrics.sessionsRehydrated)).toBeGreaterThanOrEqual(10);
    const metrics = await (await fetch(`${A}/metrics`)).text();
    expect(metrics).toMatch(/^mcp_live_sessions \d+$/m);
    expect(metrics).toMatch(/^mcp_sessions_passivated_total [1-9]\d*$/m);
  });

  test('eviction under load: calls in flight on many sessions at once all finish, with every progress notification', async () => {
    while (sessions.length < 10) await open();
    const woken = await counted(c.instances[0]!.metrics.sessionsRehydrated);
    const run = async (s: Session, round: number) => {
      const progress: number[] = [];
      const result = await s.client.callTool(
        { name: 'longRunningOperation', arguments: { duration: 0.2, steps: 4 } },
        {
          onprogress: (p) => progress.push(p.progress),
        },
      );
      expect(text(result)).toContain('completed');
      expect(progress).toEqual([1, 2, 3, 4]);
      expect(text(await s.client.callTool({ name: 'echo', arguments: { message: `r${round}` } }))).toBe(
        `Echo: r${round}`,
      );
    };
    // Ten sessions busy at once (beyond the cap: busy ones are never evicted), twice over.
    for (const round of [1, 2]) await Promise.all(sessions.slice(0, 10).map((s) => run(s, round)));
    expect(await counted(c.instances[0]!.metrics.sessionsRehydrated)).toBeGreaterThan(woken);
    // Once they are idle again the instance comes back under the cap (at its next sweep).
    await until('the live sessions back under the cap', () => hostA().liveCount <= MAX_LIVE);
  });

  test('a session waiting for the client to answer an elicitation stays in memory while others come and go', async () => {
    const waiting = await open({ elicitation: { form: {} } });
    let asked!: () => void;
    const wasAsked = new Promise<void>((r) => (asked = r));
    let answer!: () => void;
    const answered = new Promise<void>((r) => (answer = r));
    waiting.client.setRequestHandler('elicitation/create', async () => {
      asked();
      await answered;
      return {
        action: 'accept',
        content: { name: 'Ada', email: 'ada@example.com', age: 36, color: 'green', newsletter: true },
      };
    });
    const call = waiting.client.callTool({ name: 'elicitInput', arguments: {} });
    await wasAsked;
    for (const s of sessions.slice(0, 2 * MAX_LIVE))
      await s.client.callTool({ name: 'echo', arguments: { message: 'meanwhile' } });
    for (let i = 0; i < MAX_LIVE; i++) await open();
    expect(hostA().isLive(waiting.ref)).toBe(true);
    answer();
    expect(text(await call)).toContain('"name":"Ada"');
  });

  test('a passivated session whose host dies is taken over by the other instance, level and all', async () => {
    const s = await open();
    const logs: string[] = [];
    s.client.setNotificationHandler('notifications/message', (n) => void logs.push(String(n.params.data)));
    await s.client.setLoggingLevel('error');
    for (let i = 0; i < MAX_LIVE; i++) await open();
    expect(hostA().isLive(s.ref)).toBe(false);
    await c.instances[0]!.kill();
    expect(text(await s.client.callTool({ name: 'test_tool_with_logging', arguments: {} }))).toContain('successfully');
    expect(c.instances[1]!.routing.isLive(s.ref)).toBe(true);
    expect(logs).toEqual([]);
  });
});
