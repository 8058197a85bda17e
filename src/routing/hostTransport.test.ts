import type { JSONRPCMessage } from '@modelcontextprotocol/server';
import { createLogger } from '../observability/logger.js';
import { decode, ReplyHeaderSchema } from './envelope.js';
import { HostTransport, NoStreamError, type HostTransportDeps } from './hostTransport.js';

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
    expect(published).toEqual([
      { channel: 'reply-1', header: { type: 'msg', final: true }, body: '{"jsonrpc":"2.0","id":1,"result":{}}' },
    ]);
    await t.send({ jsonrpc: '2.0', id: 1, result: {} }); // duplicate: no longer in flight
    expect(published).toHaveLength(1);
  });

  test('related messages ride the request stream; unrelated ones go to the GET stream', async () => {
    const { t, published } = setup();
    t.deliver(call(7), {}, 'reply-7');
    await t.send(
      { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 1, progress: 1 } },
      { relatedRequestId: 7 },
    );
    await t.send({ jsonrpc: '2.0', method: 'notifications/resources/updated', params: { uri: 'x' } });
    expect(published.map((p) => p.channel)).toEqual(['reply-7', 'out']);
    expect(published[0]!.header).toEqual({ type: 'msg' });
  });

  test('a server→client request with nowhere to go fails at once instead of timing out', async () => {
    const { t } = setup(0);
    await expect(t.send({ jsonrpc: '2.0', id: 0, method: 'sampling/createMessage', params: {} })).rejects.toThrow(
      NoStreamError,
    );
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
    expect(published).toEqual([{ channel: 'reply-1', header: { type: 'alive' }, body: undefined }]);
    await t.heartbeat(Date.now(), 1000);
    expect(published).toHaveLength(1);
    await t.close();
    expect(published[1]).toEqual({
      channel: 'reply-1',
      header: { type: 'end', reason: 'session closed' },
      body: undefined,
    });
  });
});

describe('HostTransport event log (resumability)', () => {
  /** A transport whose event log is `logEvent` (default: records every append and numbers it). */
  function logged(logEvent?: HostTransportDeps['logEvent']) {
    const log: Array<[string, string, string | undefined, boolean | undefined]> = [];
    const published: Array<{ channel: string; header: unknown; body?: string }> = [];
    let n = 0;
    const t = new HostTransport({
      sessionId: 's',
      outboundChannel: 'out',
      log: createLogger('silent'),
      maxPendingClientRequests: 2,
      publish: async (channel, payload) => {
        const [head, body] = payload.split('\n');
        published.push({ channel, header: JSON.parse(head!), ...(body === undefined ? {} : { body }) });
        return 1;
      },
      logEvent:
        logEvent ??
        (async (streamId, kind, body, final) => {
          log.push([streamId, kind, body, final]);
          return `${streamId}_${++n}-0`;
        }),
    });
    return { t, log, published, headers: () => published.map((p) => ({ channel: p.channel, header: p.header })) };
  }
  const progress = {
    jsonrpc: '2.0' as const,
    method: 'notifications/progress',
    params: { progressToken: 1, progress: 1 },
  };

  test('a lone answer is not logged; once anything else went out, every message of the stream is, with its id', async () => {
    const { t, log, headers } = logged();
    t.deliver(call(1), {}, 'reply-1', 'inst.1');
    await t.send({ jsonrpc: '2.0', id: 1, result: {} });
    expect(log).toEqual([]);
    expect(headers().at(-1)).toEqual({ channel: 'reply-1', header: { t: 'msg', f: true } });

    t.deliver(call(2), {}, 'reply-2', 'inst.2');
    await t.send(progress, { relatedRequestId: 2 });
    await t.send({ jsonrpc: '2.0', id: 2, result: {} });
    expect(log.map(([s, k, , f]) => [s, k, f])).toEqual([
      ['inst.2', 'open', undefined],
      ['inst.2', 'msg', false],
      ['inst.2', 'msg', true],
    ]);
    expect(headers().slice(-2)).toEqual([
      { channel: 'reply-2', header: { t: 'msg', e: 'inst.2_2-0' } },
      { channel: 'reply-2', header: { t: 'msg', f: true, e: 'inst.2_3-0' } },
    ]);
  });

  test('a heartbeat makes the stream resumable; a cancelled one logs its end', async () => {
    const { t, log } = logged();
    t.deliver(call(3), {}, 'reply-3', 'inst.3');
    await t.heartbeat(Date.now() + 10_000, 0);
    await t.end(3, 'cancelled');
    expect(log.map(([s, k]) => [s, k])).toEqual([
      ['inst.3', 'open'],
      ['inst.3', 'end'],
    ]);
  });

  test('closeSSEStream is offered only for resumable streams, and closes after logging the stream open', async () => {
    const { t, log, headers } = logged();
    const extras: Array<{ closeSSEStream?: () => void }> = [];
    t.onmessage = (_m, extra) => extras.push(extra ?? {});
    t.deliver(call(5), {}, 'reply-5');
    t.deliver(call(6), {}, 'reply-6', 'inst.6');
    expect(extras[0]!.closeSSEStream).toBeUndefined();
    extras[1]!.closeSSEStream!();
    await new Promise((r) => setImmediate(r));
    expect(log.map(([s, k]) => [s, k])).toEqual([['inst.6', 'open']]);
    expect(headers().at(-1)).toEqual({ channel: 'reply-6', header: { t: 'close' } });
    // The request goes on: its answer is logged for the client that resumes.
    await t.send({ jsonrpc: '2.0', id: 6, result: {} });
    expect(log.at(-1)?.slice(0, 2)).toEqual(['inst.6', 'msg']);
  });

  test('GET-stream notifications are logged; server→client requests are not', async () => {
    const { t, log, published } = logged();
    await t.send({ jsonrpc: '2.0', method: 'notifications/resources/updated', params: { uri: 'x' } });
    await t.send({ jsonrpc: '2.0', id: 'srv-1', method: 'ping' });
    expect(log.map(([s, k]) => [s, k])).toEqual([['get', 'msg']]);
    expect(published.map((p) => p.header)).toEqual([{ t: 'msg', e: 'get_1-0' }, { t: 'msg' }]);
  });

  test('a resumable stream keeps send order even when logging takes a while', async () => {
    let n = 0;
    // The first appends are slow, the later ones fast: without ordering the answer would overtake.
    const { t, published } = logged(async (streamId) => {
      const k = ++n;
      await new Promise((r) => setTimeout(r, k <= 2 ? 20 : 0));
      return `${streamId}_${k}-0`;
    });
    t.deliver(call(8), {}, 'reply-8', 'inst.8');
    const sent = [
      t.send({ ...progress, params: { progressToken: 1, progress: 1 } }, { relatedRequestId: 8 }),
      t.send({ ...progress, params: { progressToken: 1, progress: 2 } }, { relatedRequestId: 8 }),
      t.send({ jsonrpc: '2.0', id: 8, result: {} }),
    ];
    await Promise.all(sent);
    expect(published.map((p) => JSON.parse(p.body!) as object)).toEqual([
      expect.objectContaining({ params: expect.objectContaining({ progress: 1 }) }),
      expect.objectContaining({ params: expect.objectContaining({ progress: 2 }) }),
      expect.objectContaining({ result: {} }),
    ]);
  });

  test('a failing log costs the id, not the message', async () => {
    const { t, headers } = logged(() => Promise.reject(new Error('redis down')));
    t.deliver(call(4), {}, 'reply-4', 'inst.4');
    await t.send(progress, { relatedRequestId: 4 });
    expect(headers()).toEqual([{ channel: 'reply-4', header: { t: 'msg' } }]);
  });
});
