import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { createLogger } from '../observability/logger.js';
import { decode, ReplyHeaderSchema } from './envelope.js';
import { HostTransport, NoStreamError } from './hostTransport.js';

function setup(outboundReceivers = 1, maxPending = 2) {
  const published: Array<{ channel: string; header: unknown; body?: string }> = [];
  const t = new HostTransport({
    sessionId: 's',
    outboundChannel: 'out',
    log: createLogger('silent'),
    maxPendingClientRequests: maxPending,
    publish: async (channel, payload) => {
      const { header, body } = decode(ReplyHeaderSchema.or(ReplyHeaderSchema), payload);
      published.push({ channel, header, body });
      return channel === 'out' ? outboundReceivers : 1;
    },
  });
  const received: JSONRPCMessage[] = [];
  t.onmessage = (m) => received.push(m);
  return { t, published, received };
}

const call = (id: number): JSONRPCMessage => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'x' } });

describe('HostTransport routing', () => {
  test('a response goes to its request reply channel, marked final, once', async () => {
    const { t, published } = setup();
    t.deliver(call(1), {}, 'reply-1');
    await t.send({ jsonrpc: '2.0', id: 1, result: {} });
    expect(published).toEqual([{ channel: 'reply-1', header: { t: 'msg', f: true }, body: '{"jsonrpc":"2.0","id":1,"result":{}}' }]);
    await t.send({ jsonrpc: '2.0', id: 1, result: {} }); // duplicate: no longer in flight
    expect(published).toHaveLength(1);
  });

  test('related messages ride the request stream; unrelated ones go to the GET stream', async () => {
    const { t, published } = setup();
    t.deliver(call(7), {}, 'reply-7');
    await t.send({ jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 1, progress: 1 } }, { relatedRequestId: 7 });
    await t.send({ jsonrpc: '2.0', method: 'notifications/resources/updated', params: { uri: 'x' } });
    expect(published.map((p) => p.channel)).toEqual(['reply-7', 'out']);
    expect(published[0]!.header).toEqual({ t: 'msg' });
  });

  test('a server→client request with nowhere to go fails at once instead of timing out', async () => {
    const { t } = setup(0);
    await expect(t.send({ jsonrpc: '2.0', id: 0, method: 'sampling/createMessage', params: {} })).rejects.toThrow(NoStreamError);
  });

  test('pending server→client requests are capped, and freed by the client answer', async () => {
    const { t } = setup(1, 1);
    await t.send({ jsonrpc: '2.0', id: 0, method: 'ping' });
    await expect(t.send({ jsonrpc: '2.0', id: 1, method: 'ping' })).rejects.toThrow(/too many pending/);
    t.deliver({ jsonrpc: '2.0', id: 0, result: {} }, {});
    await expect(t.send({ jsonrpc: '2.0', id: 2, method: 'ping' })).resolves.toBeUndefined();
  });

  test('replayed requests (session takeover) are answered into the void', async () => {
    const { t, published, received } = setup();
    t.replay({ jsonrpc: '2.0', id: 'init', method: 'initialize', params: {} });
    expect(received).toHaveLength(1);
    await t.send({ jsonrpc: '2.0', id: 'init', result: {} });
    expect(published).toEqual([]);
  });

  test('heartbeats go only to quiet requests; close ends every open stream', async () => {
    const { t, published } = setup();
    t.deliver(call(1), {}, 'reply-1');
    await t.heartbeat(Date.now() + 10_000, 1000);
    expect(published).toEqual([{ channel: 'reply-1', header: { t: 'alive' }, body: undefined }]);
    await t.heartbeat(Date.now(), 1000);
    expect(published).toHaveLength(1);
    await t.close();
    expect(published[1]).toEqual({ channel: 'reply-1', header: { t: 'end', reason: 'session closed' }, body: undefined });
  });
});
