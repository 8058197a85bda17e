/**
 * Global setup of `npm run test:topologies` (jest.topologies.config.js): a throwaway Redis Cluster
 * (3 masters, 1 replica each) and a Sentinel set-up (master, replica, 3 sentinels) on free loopback
 * ports, for the projects selected (`--selectProjects`, default both), started in parallel. One
 * already given in the environment (TEST_CLUSTER_ENV / TEST_SENTINEL_ENV, see below) is used instead.
 *
 * Each runs in a child process (src/test/redisDeployment.ts) that prints the REDIS_* settings
 * reaching it and stops everything it started when its standard input closes: at globalTeardown,
 * or when this process dies. The suites find the settings, as JSON, in TEST_CLUSTER_ENV (what a
 * server instance uses) and TEST_CLUSTER_ADMIN_ENV (what an administrator uses), likewise
 * TEST_SENTINEL_* (src/test/cluster.ts). Jest loads this file as CommonJS without the project's module mapping, so
 * it imports nothing of the project's own.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

const TOPOLOGIES = ['cluster', 'sentinel'] as const;

interface GlobalConfig {
  rootDir: string;
  selectProjects?: string[];
}

async function start(topology: string, rootDir: string): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/test/redisDeployment.ts', topology], {
    cwd: rootDir,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  ((globalThis as { __redisChildren?: ChildProcess[] }).__redisChildren ??= []).push(child);
  const first = await Promise.race([
    once(createInterface({ input: child.stdout }), 'line').then(([line]) => line as string),
    once(child, 'exit').then(([code]) => {
      throw new Error(
        `the ${topology} deployment did not start (exit ${String(code)}); redis-server and redis-cli are needed`,
      );
    }),
  ]);
  const { env, admin } = JSON.parse(first) as { env: Record<string, string>; admin: Record<string, string> };
  process.env[`TEST_${topology.toUpperCase()}_ENV`] = JSON.stringify(env);
  process.env[`TEST_${topology.toUpperCase()}_ADMIN_ENV`] = JSON.stringify(admin);
}

/** A deployment already named in the environment (started by hand with redisDeployment.ts) is reused. */
const given = (topology: string) => process.env[`TEST_${topology.toUpperCase()}_ENV`] !== undefined;

export default async function globalSetup(globalConfig: GlobalConfig): Promise<void> {
  const wanted = TOPOLOGIES.filter(
    (t) => (!globalConfig.selectProjects || globalConfig.selectProjects.includes(t)) && !given(t),
  );
  await Promise.all(wanted.map((t) => start(t, globalConfig.rootDir)));
}
