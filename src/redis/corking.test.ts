/**
 * The ioredis internals that CorkingRedis and CorkingCluster rely on, held to a test so that an
 * ioredis release that changes them fails here rather than in production:
 *   - every command goes through `sendCommand`; a plain command passes no second argument, while a
 *     pipeline (and MULTI) passes the stream it assembles its own write in;
 *   - a ready connection writes a command to its `stream` (the socket) synchronously, inside
 *     `sendCommand`, so corking that socket first holds the write back;
 *   - on a cluster, `nodes('all')` gives the node connections with their `status` and `stream`.
 * Then the corking itself: the commands of one event-loop turn wait in a corked socket, leave when
 * the turn ends, and answer in order. Runs on every topology (jest.topologies.config.js): a Redis
 * Cluster exercises CorkingCluster, the others CorkingRedis.
 */
import type { Socket } from 'node:net';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { Cluster, Redis } from 'ioredis';
import { inspectRedis, TOPOLOGY } from '../test/cluster.js';
import type { RedisConnections } from './connections.js';
import { CorkingCluster } from './corkingCluster.js';
import { CorkingRedis } from './corkingRedis.js';

let conns: RedisConnections;
const key = (n: number) => `corking-contract:${process.pid}:${n}`;

beforeAll(async () => {
  conns = await inspectRedis();
});
afterAll(async () => {
  await Promise.all([0, 1, 2].map((n) => conns.command.del(key(n))));
  await conns.close();
});

/** The sockets a command of this connection may be written to. */
function sockets(): Socket[] {
  const command = conns.command as Redis | Cluster;
  const nodes = command instanceof Cluster ? command.nodes('all') : [command];
  return nodes.flatMap((n) => (n.status === 'ready' && n.stream ? [n.stream] : []));
}

/** Records the arguments after the command of every `sendCommand` call made on `conn` itself. */
function recordSendCommand(conn: Redis): { extra: unknown[][]; restore(): void } {
  const extra: unknown[][] = [];
  const original = conn.sendCommand.bind(conn) as (...a: unknown[]) => unknown;
  const spy = (...args: unknown[]) => {
    extra.push(args.slice(1).filter((a) => a !== undefined));
    return original(...args);
  };
  Object.defineProperty(conn, 'sendCommand', { value: spy, configurable: true, writable: true });
  return { extra, restore: () => void Reflect.deleteProperty(conn, 'sendCommand') };
}

describe(`ioredis internals the corking connection relies on (${TOPOLOGY})`, () => {
  test('the command connection is the corking class of its topology', () => {
    expect(conns.command).toBeInstanceOf(TOPOLOGY === 'cluster' ? CorkingCluster : CorkingRedis);
    expect(conns.command.status).toBe('ready');
  });

  test('a plain command reaches sendCommand alone; a pipeline and MULTI pass their stream', async () => {
    const rec = recordSendCommand(conns.command);
    try {
      await conns.command.set(key(0), 'a');
      expect(rec.extra).toEqual([[]]);
      rec.extra.length = 0;
      await conns.command.pipeline().get(key(0)).get(key(0)).exec();
      expect(rec.extra.length).toBeGreaterThanOrEqual(2);
      for (const args of rec.extra) expect(args.length).toBeGreaterThanOrEqual(1);
      rec.extra.length = 0;
      await conns.command.multi().get(key(0)).exec();
      expect(rec.extra.length).toBeGreaterThanOrEqual(3);
      for (const args of rec.extra) expect(args.length).toBeGreaterThanOrEqual(1);
    } finally {
      rec.restore();
    }
  });

  test('a ready connection writes a command to a node socket synchronously, inside sendCommand', async () => {
    await conns.command.get(key(0)); // every node of the key's slot is connected
    const targets = sockets();
    expect(targets.length).toBeGreaterThan(0);
    let writes = 0;
    const originals = targets.map((s) => s.write.bind(s));
    targets.forEach((s, i) => {
      s.write = ((...args: Parameters<Socket['write']>) => {
        writes += 1;
        return originals[i]!(...args);
      }) as Socket['write'];
    });
    try {
      const pending = conns.command.get(key(0));
      expect(writes).toBe(1);
      await pending;
    } finally {
      targets.forEach((s) => Reflect.deleteProperty(s, 'write'));
    }
  });
});

describe(`corking (${TOPOLOGY})`, () => {
  test('the commands of one turn wait in corked sockets and answer in order once the turn ends', async () => {
    await conns.command.get(key(0));
    const targets = sockets();
    expect(targets.every((s) => s.writableCorked === 0)).toBe(true);
    const replies = Promise.all([
      conns.command.set(key(1), 'one'),
      conns.command.incr(key(2)),
      conns.command.get(key(1)),
      conns.command.del(key(2)),
    ]);
    expect(targets.every((s) => s.writableCorked === 1)).toBe(true);
    await nextTurn();
    expect(targets.every((s) => s.writableCorked === 0)).toBe(true);
    expect(await replies).toEqual(['OK', 1, 'one', 1]);
  });

  test('a pipeline issued in a corked turn is sent with the rest and uncorked with them', async () => {
    const first = conns.command.set(key(1), 'two');
    const piped = conns.command.pipeline().get(key(1)).exec();
    await nextTurn();
    expect(sockets().every((s) => s.writableCorked === 0)).toBe(true);
    expect(await first).toBe('OK');
    expect(await piped).toEqual([[null, 'two']]);
  });
});
