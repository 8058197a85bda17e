import { EventEmitter, once } from 'node:events';
import { afterEach, describe, expect, it } from '@jest/globals';
import {
  ProtocolError,
  ProtocolErrorCode,
  type ListResourcesResult,
  type Resource,
} from '@modelcontextprotocol/client';
import { InMemoryServerEventBus } from '@modelcontextprotocol/server';
import { RESOURCE_NOT_FOUND } from '../errors.js';
import { startResourceChangeSimulator } from '../resourceUpdates.js';
import { InMemorySessionState } from '../sessionState.js';
import { connectClient, type Connected } from '../testing/connectClient.js';

const opened: Connected[] = [];
afterEach(async () => {
  for (const c of opened.splice(0)) await c.close();
});
/** The error object of the last error response the client received, exactly as sent. */
function lastWireError(c: Connected) {
  return c.received.flatMap((m) => ('error' in m ? [m.error] : [])).at(-1);
}
async function connect(...args: Parameters<typeof connectClient>) {
  const c = await connectClient(...args);
  opened.push(c);
  return c;
}

describe('resources/list pagination', () => {
  it('lists the 100 static resources in ten pages of ten, then the fixtures, with opaque cursors', async () => {
    const { client } = await connect();
    const pages: Resource[][] = [];
    let cursor: string | undefined;
    do {
      // One page per request: the client's listResources() without a cursor would fetch them all.
      const page: ListResourcesResult = await client.request({
        method: 'resources/list',
        params: cursor ? { cursor } : {},
      });
      pages.push(page.resources);
      cursor = page.nextCursor;
      if (cursor) expect(cursor).not.toMatch(/^\d+$/);
    } while (cursor);
    expect(pages.slice(0, 10).every((p) => p.length === 10)).toBe(true);
    const staticUris = pages
      .slice(0, 10)
      .flat()
      .map((r) => r.uri);
    expect(staticUris).toEqual(Array.from({ length: 100 }, (_, i) => `test://static/resource/${i + 1}`));
    expect(pages[10]!.map((r) => r.uri)).toEqual([
      'test://static-text',
      'test://static-binary',
      'test://watched-resource',
    ]);
    expect(pages).toHaveLength(11);
    for (const r of pages.flat()) expect(r.name).toBeTruthy();
  });

  it.each([
    'garbage',
    Buffer.from(JSON.stringify({ l: 'prompts', o: 10 })).toString('base64url'),
    Buffer.from('{"l":"resources","o":-1}').toString('base64url'),
  ])('refuses the bad cursor %s with -32602', async (cursor) => {
    const { client } = await connect();
    const err = await client.listResources({ cursor }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as ProtocolError).code).toBe(ProtocolErrorCode.InvalidParams);
  });

  it('lists the resource templates', async () => {
    const { client } = await connect();
    const { resourceTemplates } = await client.listResourceTemplates();
    expect(resourceTemplates.map((t) => t.uriTemplate)).toEqual([
      'test://static/resource/{id}',
      'test://template/{id}/data',
    ]);
  });
});

describe('resources/read', () => {
  it('reads odd ids as text and even ids as base64 blobs, directly or through the template', async () => {
    const { client } = await connect();
    const odd = await client.readResource({ uri: 'test://static/resource/7' });
    expect(odd.contents[0]).toEqual({
      uri: 'test://static/resource/7',
      mimeType: 'text/plain',
      text: 'Resource 7: This is a plaintext resource',
    });
    const even = (await client.readResource({ uri: 'test://static/resource/8' })).contents[0]!;
    expect('blob' in even && Buffer.from(even.blob, 'base64').toString()).toBe('Resource 8: This is a base64 blob');
    const data = (await client.readResource({ uri: 'test://template/123/data' })).contents[0]!;
    expect('text' in data && JSON.parse(data.text)).toEqual({
      id: '123',
      templateTest: true,
      data: 'Data for ID: 123',
    });
  });

  it.each(['test://nope', 'test://static/resource/101', 'test://static/resource/abc'])(
    'answers %s with -32002',
    async (uri) => {
      const c = await connect();
      await expect(c.client.readResource({ uri })).rejects.toBeInstanceOf(ProtocolError);
      expect(lastWireError(c)).toEqual({ code: RESOURCE_NOT_FOUND, message: 'Resource not found', data: { uri } });
    },
  );
});

describe('subscriptions', () => {
  function collectUpdates(c: Connected) {
    const uris: string[] = [];
    const events = new EventEmitter();
    c.client.setNotificationHandler('notifications/resources/updated', (n) => {
      uris.push(n.params.uri);
      events.emit('uri', n.params.uri);
    });
    return { uris, next: async () => ((await once(events, 'uri')) as [string])[0] };
  }

  /** The change bus, publishing resource updates the way the simulator does. */
  function changeBus() {
    const events = new InMemoryServerEventBus();
    return { events, publish: (uri: string) => events.publish({ kind: 'resource_updated', uri }) };
  }

  it('notifies only subscribed URIs, stops after unsubscribe, and keeps subscriptions in the session state', async () => {
    const feed = changeBus();
    const c = await connect({ capabilities: {}, events: feed.events });
    const updates = collectUpdates(c);
    const one = 'test://static/resource/1';
    const two = 'test://static/resource/2';

    await c.client.subscribeResource({ uri: one });
    expect(await c.session.state.subscriptions()).toEqual([one]);

    let next = updates.next();
    feed.publish(two); // not subscribed
    feed.publish(one);
    expect(await next).toBe(one);

    await c.client.unsubscribeResource({ uri: one });
    await c.client.subscribeResource({ uri: two });
    next = updates.next();
    feed.publish(one); // no longer subscribed
    feed.publish(two);
    expect(await next).toBe(two);
    expect(updates.uris).toEqual([one, two]);
  });

  it('refuses to subscribe to an unknown resource with -32002', async () => {
    const c = await connect();
    await expect(c.client.subscribeResource({ uri: 'test://unknown' })).rejects.toBeInstanceOf(ProtocolError);
    expect(lastWireError(c)?.code).toBe(RESOURCE_NOT_FOUND);
  });

  it('a server rebuilt over the same session state (takeover) keeps notifying earlier subscriptions', async () => {
    const feed = changeBus();
    const state = new InMemorySessionState();
    const first = await connect({ events: feed.events, session: { state } });
    await first.client.subscribeResource({ uri: 'test://watched-resource' });
    await first.close();
    opened.splice(opened.indexOf(first), 1);

    const second = await connect({ events: feed.events, session: { state } });
    const updates = collectUpdates(second);
    const next = updates.next();
    feed.publish('test://watched-resource');
    expect(await next).toBe('test://watched-resource');
  });

  it('unhooks its change-bus listener when the server closes', async () => {
    const feed = changeBus();
    const c = await connect({ events: feed.events });
    expect(feed.events.listenerCount).toBe(1);
    await c.close();
    opened.splice(opened.indexOf(c), 1);
    expect(feed.events.listenerCount).toBe(0);
  });

  it('forwards tools and prompts list changes to the session', async () => {
    const feed = changeBus();
    const c = await connect({ events: feed.events });
    const seen = new EventEmitter();
    c.client.setNotificationHandler('notifications/tools/list_changed', () => void seen.emit('n', 'tools'));
    c.client.setNotificationHandler('notifications/prompts/list_changed', () => void seen.emit('n', 'prompts'));
    const first = once(seen, 'n');
    feed.events.publish({ kind: 'tools_list_changed' });
    expect(await first).toEqual(['tools']);
    const second = once(seen, 'n');
    feed.events.publish({ kind: 'prompts_list_changed' });
    expect(await second).toEqual(['prompts']);
  });
});

describe('startResourceChangeSimulator', () => {
  it('publishes the static resources round robin until stopped', async () => {
    const events = new EventEmitter();
    const published: string[] = [];
    const stop = startResourceChangeSimulator((uri) => {
      published.push(uri);
      if (published.length === 2) events.emit('two');
    }, 5);
    await once(events, 'two');
    stop();
    expect(published.slice(0, 2)).toEqual(['test://static/resource/1', 'test://static/resource/2']);
  });

  it('starts nothing for an interval of 0', () => {
    const stop = startResourceChangeSimulator(() => {
      throw new Error('must not publish');
    }, 0);
    stop();
  });
});
