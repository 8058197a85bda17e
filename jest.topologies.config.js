/**
 * `npm run test:topologies`: the multi-instance suites again, on a Redis Cluster (3 masters with a
 * replica each, sharded pub/sub) and on a Sentinel-managed master, both started for the run by
 * src/test/globalSetup.topologies.ts. The topology reaches the suites through
 * `globals` (src/test/cluster.ts). `npm test` runs everything on a single Redis; .ci/run runs both.
 */
import { readFileSync } from 'node:fs';

const base = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')).jest;

/** The suites whose behaviour depends on the Redis topology. */
const suites = [
  'src/test/routing.test.ts',
  'src/test/resilience.test.ts',
  'src/test/resumability.test.ts',
  'src/test/sessionAdmin.test.ts',
  'src/test/legacySse.test.ts',
  'src/test/everythingAcrossInstances.test.ts',
  'src/test/oauthIntegrated.test.ts',
  // The 2026-07-28 lane's Redis pieces (change bus, requestState keys, task records and signals),
  // the per-user cap's reservation script and eviction, and WebSocket sessions on the mesh.
  'src/test/modernLane.test.ts',
  'src/test/tasksAcrossInstances.test.ts',
  'src/test/sessionCap.test.ts',
  'src/test/websocket.test.ts',
  // The ioredis internals the corking connections rely on, on a cluster node set and behind Sentinel.
  'src/redis/corking.test.ts',
  // Kills a master under load: meaningful only where a replica can take over.
  'src/test/failover.topology.test.ts',
];

const project = (topology) => ({
  ...base,
  displayName: topology,
  testMatch: suites.map((s) => `<rootDir>/${s}`),
  testPathIgnorePatterns: ['/node_modules/'],
  globals: { TEST_REDIS_TOPOLOGY: topology },
  // Started once for the whole run, below.
  globalSetup: undefined,
  globalTeardown: undefined,
});

export default {
  testTimeout: base.testTimeout,
  globalSetup: '<rootDir>/src/test/globalSetup.topologies.ts',
  globalTeardown: '<rootDir>/src/test/globalTeardown.ts',
  projects: [project('cluster'), project('sentinel')],
};
