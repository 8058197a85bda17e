/**
 * Stops whatever globalSetup started: the throwaway redis-server (killed), and the cluster and
 * Sentinel deployments (their standard input closes; they stop their processes and exit).
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';

export default async function globalTeardown(): Promise<void> {
  const children = (globalThis as { __redisChildren?: ChildProcess[] }).__redisChildren ?? [];
  await Promise.all(
    children.splice(0).map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      if (child.stdin) child.stdin.end();
      else child.kill();
      await exited;
    }),
  );
}
