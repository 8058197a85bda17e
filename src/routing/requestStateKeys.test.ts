/**
 * requestState sealing across instances on a real Redis: the keys every instance shares, their
 * rotation with overlap, and what the seal refuses (tampering, another caller, another method,
 * an unknown or retired key, expiry).
 */
import { randomBytes } from 'node:crypto';
import type { AuthInfo, ServerContext } from '@modelcontextprotocol/server';
import { Redis } from 'ioredis';
import { createRequestStateSeal } from '../mcp/requestState.js';
import { RedisStateKeys } from './requestStateKeys.js';

const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const HOUR = 3600_000;
const TTL_MS = 600_000;

let redis: Redis;
let hashKey: string;
beforeAll(() => {
  redis = new Redis(REDIS_URL);
});
beforeEach(() => {
  hashKey = `t${randomBytes(5).toString('hex')}:mrtr:keys`;
});
afterEach(() => redis.del(hashKey));
afterAll(() => redis.quit());

/** The two things the seal binds to, as the SDK hands them to handlers. */
function requestFrom(userId: string, clientId = 'client-1', method = 'tools/call'): ServerContext {
  const authInfo: AuthInfo = { token: '', clientId, scopes: [], extra: { userId } };
  return { mcpReq: { method }, http: { authInfo } } as unknown as ServerContext;
}

/** An instance: its own key cache over the shared hash, with its own clock. */
function instance(clock: { now: number }, ttlSeconds = TTL_MS / 1000) {
  const keys = new RedisStateKeys(redis, hashKey, HOUR, TTL_MS, () => clock.now);
  return { keys, seal: createRequestStateSeal(keys, ttlSeconds) };
}

describe('requestState keys shared through Redis', () => {
  test('instances that start at once agree on one key, and state sealed on one verifies on the other', async () => {
    const clock = { now: Date.now() };
    const [a, b, c] = [instance(clock), instance(clock), instance(clock)];
    const kids = await Promise.all([a.keys.current(), b.keys.current(), c.keys.current()]);
    expect(new Set(kids.map((k) => k.kid)).size).toBe(1);
    const alice = requestFrom('alice');
    const state = await a.seal.mint({ step: 2 }, alice);
    expect(await b.seal.verify(state, alice)).toEqual({ step: 2 });
    expect(await c.seal.verify(state, alice)).toEqual({ step: 2 });
  });

  test('after a rotation the previous key still verifies, until its states can no longer be valid', async () => {
    const clock = { now: Date.now() };
    const a = instance(clock);
    const b = instance(clock);
    const alice = requestFrom('alice');
    const before = await a.seal.mint('minted before the rotation', alice);
    const first = await a.keys.current();

    clock.now += HOUR + 1;
    const second = await b.keys.current();
    expect(second.kid).not.toBe(first.kid);
    expect((await a.keys.current()).kid).toBe(second.kid);
    expect(await a.seal.verify(before, alice)).toBe('minted before the rotation');
    expect(await b.seal.verify(before, alice)).toBe('minted before the rotation');

    // One more rotation after the first key's window closed: the script drops it.
    clock.now += HOUR + TTL_MS;
    await a.keys.current();
    expect(await redis.hexists(hashKey, `s:${first.kid}`)).toBe(0);
    const fresh = instance(clock);
    await expect(fresh.seal.verify(before, alice)).rejects.toThrow('unknown key');
  });

  test('refuses tampered state, another user, another client, another method, forged and malformed kids', async () => {
    const { seal } = instance({ now: Date.now() });
    const alice = requestFrom('alice');
    const state = await seal.mint({ approved: false }, alice);
    const [kid, sealed] = state.split('~') as [string, string];
    const [version, body, mac] = sealed.split('.') as [string, string, string];
    const forgedBody = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(body, 'base64url').toString()), p: { approved: true } }),
    ).toString('base64url');
    const refusals = [
      [`${kid}~${version}.${forgedBody}.${mac}`, alice],
      [`${state}x`, alice],
      [state, requestFrom('bob')],
      [state, requestFrom('alice', 'client-2')],
      [state, requestFrom('alice', 'client-1', 'prompts/get')],
      [`AAAAAAAAAAAAAAAA~${sealed}`, alice],
      [sealed, alice],
    ] as const;
    for (const [candidate, caller] of refusals) await expect(seal.verify(candidate, caller)).rejects.toThrow();
    expect(await seal.verify(state, alice)).toEqual({ approved: false });
  });

  test('refuses expired state', async () => {
    // A negative lifetime seals state that is already past its expiry.
    const { seal } = instance({ now: Date.now() }, -1);
    const alice = requestFrom('alice');
    await expect(seal.verify(await seal.mint('late', alice), alice)).rejects.toThrow('expired');
  });
});
