/**
 * Session administration across instances on one real Redis: a user lists and ends their own
 * sessions from any instance, whichever instance hosts them; nobody sees or ends anyone else's.
 */
import { startCluster, TOKENS, type Cluster } from './cluster.js';
import { openRawSse } from './sseStream.js';

const auth = (token: string = TOKENS.alice) => ({ Authorization: `Bearer ${token}` });
const INIT = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
};

interface Summary {
  id: string;
  transport: string;
  created: string;
  lastActivity: string;
  instance: string;
  protocolVersion?: string;
}

async function initOn(base: string, token: string = TOKENS.alice): Promise<string> {
  const res = await fetch(`${base}/mcp`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json', ...auth(token) },
    body: JSON.stringify(INIT),
  });
  expect(res.status).toBe(200);
  await res.text();
  return res.headers.get('mcp-session-id')!;
}

async function list(base: string, token: string = TOKENS.alice): Promise<Summary[]> {
  const res = await fetch(`${base}/sessions`, { headers: auth(token) });
  expect(res.status).toBe(200);
  expect(res.headers.get('cache-control')).toBe('no-store');
  return ((await res.json()) as { sessions: Summary[] }).sessions;
}

const endOn = (base: string, sid: string, token: string = TOKENS.alice) =>
  fetch(`${base}/sessions/${encodeURIComponent(sid)}`, { method: 'DELETE', headers: auth(token) });

const ping = (base: string, sid: string, token: string = TOKENS.alice) =>
  fetch(`${base}/mcp`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'Mcp-Session-Id': sid, ...auth(token) },
    body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'ping' }),
  });

describe('session admin across two instances', () => {
  let c: Cluster;
  let A: string;
  let B: string;
  let idA: string;
  let idB: string;
  beforeAll(async () => {
    c = await startCluster(2);
    [A, B] = c.instances.map((i) => i.url) as [string, string];
    [idA, idB] = c.instances.map((i) => i.routing.instanceId) as [string, string];
  });
  afterAll(() => c.close());

  test("lists only the caller's own sessions, from any instance, with the hosting instance and transport", async () => {
    const onA = await initOn(A);
    const onB = await initOn(B);
    const bobs = await initOn(A, TOKENS.bob);
    const legacy = await openRawSse(`${B}/sse`, auth());
    const legacyId = new URL((await legacy.next()).data, B).searchParams.get('sessionId')!;

    for (const base of [A, B]) {
      const mine = await list(base);
      const byId = new Map(mine.map((s) => [s.id, s]));
      expect(byId.get(onA)).toMatchObject({
        instance: idA,
        transport: 'streamable-http',
        protocolVersion: '2025-11-25',
      });
      expect(byId.get(onB)).toMatchObject({ instance: idB, transport: 'streamable-http' });
      expect(byId.get(legacyId)).toMatchObject({ instance: idB, transport: 'sse' });
      expect(byId.has(bobs)).toBe(false);
      const s = byId.get(onA)!;
      expect(Date.parse(s.created)).toBeLessThanOrEqual(Date.parse(s.lastActivity));
      expect(Date.now() - Date.parse(s.created)).toBeLessThan(60_000);
    }
    const bobList = await list(B, TOKENS.bob);
    expect(bobList.map((s) => s.id)).toEqual([bobs]);

    legacy.close();
    for (const sid of [onA, onB]) expect((await endOn(A, sid)).status).toBe(200);
    expect((await endOn(A, bobs, TOKENS.bob)).status).toBe(200);
  });

  test('DELETE /sessions/:id on B ends a session hosted on A: then 404 on both, no key left', async () => {
    const sid = await initOn(A);
    const res = await endOn(B, sid);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id: sid, ended: true });
    for (const base of [A, B]) {
      const after = await ping(base, sid);
      expect(after.status).toBe(404);
      await after.text();
    }
    expect((await c.keys()).filter((k) => k.includes(sid))).toEqual([]);
    expect((await list(A)).some((s) => s.id === sid)).toBe(false);
    // Ending it again: it is gone.
    const again = await endOn(A, sid);
    expect(again.status).toBe(404);
    expect(await again.json()).toEqual({ error: 'session_not_found', message: 'Session not found' });
  });

  test("bob can neither see nor end alice's session: 404 like an unknown id, and it keeps working", async () => {
    const sid = await initOn(A);
    expect((await list(B, TOKENS.bob)).some((s) => s.id === sid)).toBe(false);
    for (const base of [A, B]) {
      const res = await endOn(base, sid, TOKENS.bob);
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({ error: 'session_not_found', message: 'Session not found' });
    }
    expect((await endOn(B, 'no-such-session')).status).toBe(404);
    const stillAlive = await ping(B, sid);
    expect(stillAlive.status).toBe(200);
    expect(await stillAlive.json()).toEqual({ jsonrpc: '2.0', id: 2, result: {} });
    expect((await endOn(B, sid)).status).toBe(200);
  });

  test('ending a legacy session from the admin API closes its /sse stream', async () => {
    const legacy = await openRawSse(`${A}/sse`, auth());
    const sid = new URL((await legacy.next()).data, A).searchParams.get('sessionId')!;
    expect((await endOn(B, sid)).status).toBe(200);
    await legacy.ended();
    expect((await c.keys()).filter((k) => k.includes(sid))).toEqual([]);
  });

  test('needs a bearer token; a disallowed Origin is refused; other methods get 405', async () => {
    const anon = await fetch(`${A}/sessions`);
    expect(anon.status).toBe(401);
    expect(anon.headers.get('www-authenticate')).toMatch(/^Bearer\b/);
    expect((await fetch(`${A}/sessions/x`, { method: 'DELETE' })).status).toBe(401);
    expect((await fetch(`${A}/sessions`, { headers: { Origin: 'http://evil.example.com', ...auth() } })).status).toBe(
      403,
    );
    const post = await fetch(`${A}/sessions`, { method: 'POST', headers: auth() });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET');
  });
});

describe('session admin when the host died', () => {
  test('DELETE on another instance takes the session over and ends it; no key left', async () => {
    const c = await startCluster(2);
    try {
      const [A, B] = c.instances as [(typeof c.instances)[0], (typeof c.instances)[0]];
      const sid = await initOn(A.url);
      await A.kill();
      const res = await endOn(B.url, sid);
      expect(res.status).toBe(200);
      expect((await c.keys()).filter((k) => k.includes(sid))).toEqual([]);
      expect(B.routing.hostedCount).toBe(0);
    } finally {
      await c.close();
    }
  });
});
