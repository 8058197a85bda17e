/**
 * HostTransport in a legacy HTTP+SSE session (`routeAllToOutbound`): one stream carries everything,
 * and no relay waits on any request.
 */
import type { JSONRPCMessage } from '@modelcontextprotocol/server';
import { createLogger } from '../observability/logger.js';
import { decode, ReplyHeaderSchema } from './envelope.js';
import { HostTransport } from './hostTransport.js';

function setup() {
  const published: Array<{ channel: string; header: unknown; body?: string }> = [];
  const t = new HostTransport({
    sessionId: 's',
    outboundChannel: 'out',
    log: createLogger('silent'),
    maxPendingClientRequests: 4,
    routeAllToOutbound: true,
    publish: async (channel, payload) => {
      const { header, body } = decode(ReplyHeaderSchema, payload);
      published.push({ channel, header, body });
      return 1;
    },
  });
  const received: JSONRPCMessage[] = [];
  t.onmessage = (m) => received.push(m);
  return { t, published, received };
}

const call = (id: number): JSONRPCMessage => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'x' } });

describe('HostTransport with routeAllToOutbound (legacy HTTP+SSE)', () => {
  test('requests without a reply channel are tracked; related messages and the response go to the outbound channel, in order', async () => {
    const { t, published, received } = setup();
    t.deliver(call(1), {});
    expect(received).toHaveLength(1);
    expect(t.isInflight(1)).toBe(true);
    await t.send(
      { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 1, progress: 1 } },
      { relatedRequestId: 1 },
    );
    await t.send({ jsonrpc: '2.0', id: 1, result: {} });
    expect(published.map((p) => p.channel)).toEqual(['out', 'out']);
    expect(published[1]!.body).toBe('{"jsonrpc":"2.0","id":1,"result":{}}');
    expect(t.isInflight(1)).toBe(false);
  });

  test('a reply channel given anyway is ignored: the answer still goes to the stream', async () => {
    const { t, published } = setup();
    t.deliver(call(2), {}, 'reply-2');
    await t.send({ jsonrpc: '2.0', id: 2, result: {} });
    expect(published.map((p) => p.channel)).toEqual(['out']);
  });

  test('no heartbeats, no stream ends on cancel or close: the /sse stream outlives every request', async () => {
    const { t, published } = setup();
    t.deliver(call(3), {});
    t.deliver(call(4), {});
    await t.heartbeat(Date.now() + 60_000, 0);
    await t.end(3, 'cancelled');
    expect(t.isInflight(3)).toBe(false);
    await t.close();
    expect(published).toEqual([]);
  });
});
