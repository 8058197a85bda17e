/**
 * The WebSocket load generator of `npm run bench -- --transport ws`: one socket per session on /ws
 * (subprotocol `mcp`), each initialized, then closed-loop `tools/call echo` (the next call leaves
 * when the previous answer arrived), as autocannon does for HTTP with one connection per session.
 */
import WebSocket from 'ws';

export interface WsLoadResult {
  /** Calls answered during the run. */
  total: number;
  /** Error answers and sockets lost. */
  errors: number;
  /** Per-call latencies in ms, sorted. */
  latencies: number[];
}

const CALL = (id: number) =>
  JSON.stringify({
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: { name: 'echo', arguments: { message: 'bench' } },
  });

/** Opens and initializes one session's socket. */
export async function openSession(baseUrl: string, headers: Record<string, string>): Promise<WebSocket> {
  const ws = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/ws`, ['mcp'], { headers });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: HTTP ${res.statusCode}`)));
  });
  const answered = new Promise<void>((resolve) => ws.once('message', () => resolve()));
  ws.send(
    JSON.stringify({
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'bench', version: '1' } },
    }),
  );
  await answered;
  ws.send(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }));
  return ws;
}

/** Drives every socket closed-loop for `durationS` seconds. */
export async function runClosedLoop(sockets: WebSocket[], durationS: number): Promise<WsLoadResult> {
  const latencies: number[] = [];
  let errors = 0;
  const deadline = Date.now() + durationS * 1000;
  await Promise.all(
    sockets.map(
      (ws) =>
        new Promise<void>((resolve) => {
          let id = 1;
          let sent = process.hrtime.bigint();
          const next = () => {
            if (Date.now() >= deadline) {
              ws.off('message', onMessage);
              return resolve();
            }
            sent = process.hrtime.bigint();
            ws.send(CALL(++id));
          };
          const onMessage = (data: WebSocket.RawData) => {
            latencies.push(Number(process.hrtime.bigint() - sent) / 1e6);
            // A JSON-RPC error answer; the bench's answers are small, so a substring test suffices.
            if ((data as Buffer).includes('"error"')) errors++;
            next();
          };
          ws.on('message', onMessage);
          ws.once('close', () => {
            errors++;
            resolve();
          });
          next();
        }),
    ),
  );
  latencies.sort((a, b) => a - b);
  return { total: latencies.length, errors, latencies };
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
