// Heap retained per hosted session, live vs passivated, on one routing instance over a real Redis:
//   node --expose-gc --import tsx scratch/sessionHeap.ts <sessions> <maxLive> [calls per session]
import { createLogger } from '../src/observability/logger.js';
import { createKeyspace } from '../src/redis/keys.js';
import { removeKeysWithPrefix } from '../src/redis/removePrefix.js';
import { redisSettings } from '../src/redis/settings.js';
import { encode } from '../src/routing/envelope.js';
import { startEverythingRouting } from '../src/test/everythingRouting.js';
const gc = (globalThis as { gc?: () => void }).gc!;
const heap = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};
const N = Number(process.argv[2] ?? 2000);
const maxLive = Number(process.argv[3] ?? 10);
const log = createLogger('silent');
const settings = redisSettings({ REDIS_URL: 'redis://127.0.0.1:6379' });
const prefix = `heap${process.pid}`;
const keys = createKeyspace(prefix);
const { routing, stop } = await startEverythingRouting(settings, keys, log, 'heap', {
  maxSessionsPerUser: 100_000,
  maxLiveSessions: maxLive,
});
const caller = { userId: 'u', clientId: 'c', scopes: [] };
const init = JSON.stringify({
  jsonrpc: '2.0',
  id: 0,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'h', version: '1' } },
});
const request = (ref: { u: string; sessionId: string }, body: string) =>
  new Promise<void>((resolve) => {
    const reply = routing.relay.open({
      onReply: (h) => {
        if (h.type !== 'alive') resolve();
      },
      onTimeout: () => resolve(),
    });
    void routing.deliver(ref, encode({ type: 'msg', relayInstance: routing.instanceId, relayId: reply, caller }, body));
  });
const h0 = heap();
for (let i = 0; i < N; i++) {
  const ref = await routing.createSession(caller, init);
  await request(ref, init);
  await routing.deliver(
    ref,
    encode(
      { type: 'msg', relayInstance: routing.instanceId, caller },
      JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
    ),
  );
}
await new Promise((r) => setTimeout(r, 200));
const h1 = heap();
console.log(JSON.stringify({ sessions: N, live: routing.liveCount, bytesPerSession: Math.round((h1 - h0) / N) }));
const calls = Number(process.argv[4] ?? 0);
if (calls > 0) {
  const refs = [
    ...(routing as unknown as { hosts: Map<string, { ref: { u: string; sessionId: string } }> }).hosts.values(),
  ].map((h) => h.ref);
  const cpu0 = process.cpuUsage();
  for (let c = 0; c < calls; c++)
    for (const [i, ref] of refs.entries())
      await request(
        ref,
        JSON.stringify({
          jsonrpc: '2.0',
          id: c * N + i + 1,
          method: 'tools/call',
          params: { name: 'echo', arguments: { message: 'm' } },
        }),
      );
  const cpu = process.cpuUsage(cpu0);
  await new Promise((r) => setTimeout(r, 200));
  const cpuMsPerCall = (cpu.user + cpu.system) / 1000 / (calls * N);
  console.log(
    JSON.stringify({
      afterCallsEach: calls,
      cpuMsPerCall: Math.round(cpuMsPerCall * 1000) / 1000,
      live: routing.liveCount,
      bytesPerSession: Math.round((heap() - h0) / N),
    }),
  );
}
await stop();
await removeKeysWithPrefix(settings, prefix);
