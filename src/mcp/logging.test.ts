import { EventEmitter, once } from 'node:events';
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import type { LoggingMessageNotification } from '@modelcontextprotocol/client';
import { isLevelEnabled } from './logging.js';
import { connectClient, type Connected } from './testing/connectClient.js';

let conn: Connected | undefined;
afterEach(async () => {
  await conn?.close();
  conn = undefined;
});

function collectLogs(c: Connected) {
  const messages: LoggingMessageNotification['params'][] = [];
  const events = new EventEmitter();
  c.client.setNotificationHandler('notifications/message', (n) => {
    messages.push(n.params);
    events.emit('message', n.params);
  });
  return { messages, next: async () => ((await once(events, 'message')) as [LoggingMessageNotification['params']])[0] };
}

describe('logging', () => {
  it('orders levels by RFC 5424 severity; no level set means everything', () => {
    expect(isLevelEnabled('debug', undefined)).toBe(true);
    expect(isLevelEnabled('warning', 'error')).toBe(false);
    expect(isLevelEnabled('critical', 'error')).toBe(true);
  });

  it('logging/setLevel stores the level in the session state', async () => {
    conn = await connectClient();
    expect(await conn.client.setLoggingLevel('error')).toEqual({});
    expect(conn.session.state.getLogLevel()).toBe('error');
  });

  it("filters a tool's request-scoped logs by the session level", async () => {
    conn = await connectClient();
    const logs = collectLogs(conn);
    await conn.client.setLoggingLevel('warning');
    await conn.client.callTool({ name: 'test_tool_with_logging' });
    expect(logs.messages).toEqual([]);

    await conn.client.setLoggingLevel('debug');
    await conn.client.callTool({ name: 'test_tool_with_logging' });
    // Request-scoped notifications arrive before the response on the same stream.
    expect(logs.messages.map((m) => m.data)).toEqual([
      'Tool execution started',
      'Tool processing data',
      'Tool execution completed',
    ]);
    expect(logs.messages.every((m) => m.level === 'info' && m.logger === 'test_tool_with_logging')).toBe(true);
  });

  it('sends periodic messages at or above the session level', async () => {
    conn = await connectClient({ session: { logMessageIntervalMs: 2 } });
    await conn.client.setLoggingLevel('critical');
    const logs = collectLogs(conn);
    const first = await logs.next();
    const second = await logs.next();
    for (const m of [first, second]) expect(['critical', 'alert', 'emergency']).toContain(m.level);
  });

  it('clears its periodic timer when the server closes', async () => {
    // Only timers are faked; promises and I/O callbacks run as usual.
    jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask', 'setImmediate'] });
    try {
      conn = await connectClient({ session: { logMessageIntervalMs: 60_000 } });
      expect(jest.getTimerCount()).toBe(1);
      await conn.close();
      conn = undefined;
      expect(jest.getTimerCount()).toBe(0);
    } finally {
      jest.useRealTimers();
    }
  });
});
