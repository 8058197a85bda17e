/**
 * Which subscriptions a cluster event interrupted (ShardedPubSub), against a stand-in for the
 * ioredis Cluster: its slot map and the two events it emits. The real thing is exercised by the
 * failover suite (src/test/failover.topology.test.ts).
 */
import { EventEmitter } from 'node:events';
import calculateSlot from 'cluster-key-slot';
import type { Cluster } from 'ioredis';
import { ShardedPubSub, type LostSubscriptions } from './pubsub.js';

class FakeCluster extends EventEmitter {
  slots: string[][] = [];
  sent: string[][] = [];
  owner(channel: string, node: string) {
    this.slots[calculateSlot(channel)] = [node, `${node}-replica`];
  }
  async ssubscribe(channel: string) {
    this.sent.push(['ssubscribe', channel]);
  }
  async sunsubscribe(channel: string) {
    this.sent.push(['sunsubscribe', channel]);
  }
}

function setup() {
  const cluster = new FakeCluster();
  const pubsub = new ShardedPubSub(cluster as unknown as Cluster);
  const lost: LostSubscriptions[] = [];
  pubsub.onLost((l) => lost.push(l));
  return { cluster, pubsub, lost };
}

const A = 'mcp:ch:in:{u:1}';
const B = 'mcp:ch:in:{u:2}';
const C = 'mcp:ch:reply:i1';

test('a sharded subscriber connection that ends interrupts the channels of that node only', async () => {
  const { cluster, pubsub, lost } = setup();
  cluster.owner(A, 'n1:1');
  cluster.owner(B, 'n2:2');
  cluster.owner(C, 'n1:1');
  for (const ch of [A, B, C]) await pubsub.subscribe(ch);
  cluster.emit('-node', {}, 'n1:1');
  expect(lost).toHaveLength(1);
  expect([A, B, C].filter(lost[0]!)).toEqual([A, C]);
});

test('a command connection that ends (no node key) interrupts nothing', async () => {
  const { cluster, pubsub, lost } = setup();
  cluster.owner(A, 'n1:1');
  await pubsub.subscribe(A);
  cluster.emit('-node', {});
  expect(lost).toEqual([]);
});

test('a refreshed slot map interrupts the channels whose slot changed hands, once', async () => {
  const { cluster, pubsub, lost } = setup();
  cluster.owner(A, 'n1:1');
  cluster.owner(B, 'n2:2');
  await pubsub.subscribe(A);
  await pubsub.subscribe(B);
  cluster.emit('refresh');
  expect(lost).toEqual([]);
  cluster.owner(A, 'n1-replica:1'); // promoted
  cluster.emit('refresh');
  expect(lost).toHaveLength(1);
  expect([A, B].filter(lost[0]!)).toEqual([A]);
  // The new owner is remembered: the next refresh reports nothing.
  cluster.emit('refresh');
  expect(lost).toHaveLength(1);
});

test('a channel given up is no longer watched', async () => {
  const { cluster, pubsub, lost } = setup();
  cluster.owner(A, 'n1:1');
  await pubsub.subscribe(A);
  await pubsub.unsubscribe(A);
  cluster.emit('-node', {}, 'n1:1');
  expect(lost).toEqual([]);
  expect(cluster.sent).toEqual([
    ['ssubscribe', A],
    ['sunsubscribe', A],
  ]);
});
