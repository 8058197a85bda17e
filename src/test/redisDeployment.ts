/**
 * `npx tsx src/test/redisDeployment.ts cluster|sentinel`: starts a throwaway Redis deployment on
 * loopback (src/test/redisServers.ts), prints one JSON line `{"env":{…},"admin":{…}}`: the REDIS_*
 * settings a server instance uses (as the ACL user `mcp`, keys and channels `t*` and `bench*` only)
 * and the ones an administrator uses (the default user). It keeps the deployment up until its
 * standard input closes or it gets SIGINT/SIGTERM; then it stops every process it started.
 * Jest's global setup runs it this way, so the deployment goes with the test run even if jest
 * itself is killed; `npm run bench` can target it by hand:
 *
 *   npx tsx src/test/redisDeployment.ts cluster   # prints {"env":{"REDIS_CLUSTER_NODES":"127.0.0.1:…",…},…}
 */
import { createAclUser, startRedisCluster, startSentinelSet, type RedisDeployment } from './redisServers.js';

const kind = process.argv[2];
if (kind !== 'cluster' && kind !== 'sentinel') {
  process.stderr.write('usage: redisDeployment.ts cluster|sentinel\n');
  process.exit(64);
}

let deployment: RedisDeployment | undefined;
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  void (deployment?.stop() ?? Promise.resolve()).finally(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();

try {
  // The shared set-ups never fail over (the failover suite starts its own): no need to wait for
  // the sentinels to find each other.
  deployment = kind === 'cluster' ? await startRedisCluster() : await startSentinelSet({ waitForQuorum: false });
  // The instances connect as a least-privilege ACL user, limited to the prefixes of the test suites
  // (`t…`) and of `npm run bench` (`bench…`), so both prove that the recommended ACL rule is enough;
  // `admin` keeps the default user.
  const credentials = await createAclUser(deployment, {
    name: 'mcp',
    password: 'test-secret',
    patterns: ['t*', 'bench*'],
  });
  const env = { ...deployment.env, REDIS_URL: `redis://${credentials}@acl-credentials-only` };
  process.stdout.write(`${JSON.stringify({ env, admin: deployment.env })}\n`);
  if (stopping) await deployment.stop();
} catch (err) {
  process.stderr.write(`could not start the ${kind} deployment: ${(err as Error).message}\n`);
  process.exit(1);
}
