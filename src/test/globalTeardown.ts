/** Stops the throwaway redis-server that globalSetup started, if it started one. */
export default async function globalTeardown(): Promise<void> {
  (globalThis as { __redisChild?: { kill(): void } }).__redisChild?.kill();
}
