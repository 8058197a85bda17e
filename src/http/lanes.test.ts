import { describe, expect, test } from '@jest/globals';
import type { JSONRPCMessage } from '@modelcontextprotocol/server';
import { classifiedLane, postLane, sessionOperationLane } from './lanes.js';

const ping: JSONRPCMessage = { jsonrpc: '2.0', id: 1, method: 'ping' };
const initialize: JSONRPCMessage = {
  jsonrpc: '2.0',
  id: 0,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } },
};
const meta = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientCapabilities': {},
};
const enveloped: JSONRPCMessage = { jsonrpc: '2.0', id: 2, method: 'tools/list', params: { _meta: meta } };
const modernHeaders = { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/list' };

describe('postLane', () => {
  test.each([{}, { 'mcp-protocol-version': '2025-11-25' }, { 'mcp-protocol-version': '2024-11-05' }])(
    'a message without an envelope, headers %j, belongs to a 2025 session',
    (headers) => expect(postLane(headers, ping)).toEqual({ lane: 'session' }),
  );

  test('initialize opens a 2025 session', () => {
    expect(postLane({}, initialize)).toEqual({ lane: 'session' });
  });

  test('an unsupported 2025-era version is refused with 400 -32600', () => {
    const lane = postLane({ 'mcp-protocol-version': '1999-01-01' }, ping);
    expect(lane).toEqual({
      lane: 'refused',
      refusal: { status: 400, code: -32600, message: expect.stringContaining('1999-01-01') },
    });
  });

  test('a request with the per-request envelope belongs to the 2026-07-28 lane', () => {
    expect(postLane(modernHeaders, enveloped)).toEqual({
      lane: 'modern',
      verdict: {
        kind: 'modern',
        messageKind: 'request',
        message: enveloped,
        classification: { era: 'modern', revision: '2026-07-28' },
      },
    });
  });

  test('malformed modern traffic goes to the modern lane too, which answers it in the spec’s terms', () => {
    // A modern version header without the envelope, an envelope claiming an unknown version,
    // and a header/body method mismatch: the SDK's classifier does not call any of them legacy.
    // The verdict travels with the lane: the classifier's refusal, or the route it found.
    expect(postLane({ 'mcp-protocol-version': '2026-07-28' }, ping)).toMatchObject({
      lane: 'modern',
      verdict: { kind: 'reject', code: -32602 },
    });
    const unknownVersion: JSONRPCMessage = {
      ...enveloped,
      params: { _meta: { ...meta, 'io.modelcontextprotocol/protocolVersion': '2099-01-01' } },
    };
    expect(
      postLane({ 'mcp-protocol-version': '2099-01-01', 'mcp-method': 'tools/list' }, unknownVersion),
    ).toMatchObject({
      lane: 'modern',
      verdict: { kind: 'modern', classification: { revision: '2099-01-01' } },
    });
    expect(postLane({ ...modernHeaders, 'mcp-method': 'prompts/list' }, enveloped)).toMatchObject({
      lane: 'modern',
      verdict: { kind: 'reject', code: -32020 },
    });
  });
});

describe('postLane agrees with the SDK classifier everywhere, its shortcut included', () => {
  const claim = 'io.modelcontextprotocol/protocolVersion';
  const call = (params?: unknown): JSONRPCMessage =>
    ({ jsonrpc: '2.0', id: 7, method: 'tools/call', ...(params === undefined ? {} : { params }) }) as JSONRPCMessage;
  const messages: Record<string, JSONRPCMessage> = {
    'request without params': ping,
    'request, params without _meta': call({ name: 'echo', arguments: { message: 'm' } }),
    'request, empty _meta': call({ name: 'echo', _meta: {} }),
    'request, _meta with a progress token': call({ name: 'echo', _meta: { progressToken: 1 } }),
    'request, _meta with other reserved keys only': call({
      name: 'echo',
      _meta: { 'io.modelcontextprotocol/clientCapabilities': {} },
    }),
    'request, _meta an array': call({ name: 'echo', _meta: [claim] }),
    'request, params an array': call(['x']),
    'request, _meta a string': call({ name: 'echo', _meta: 'x' }),
    'request, _meta null': call({ name: 'echo', _meta: null }),
    'request, params null': call(null),
    'request, full envelope': enveloped,
    'request, claim only': call({ name: 'echo', _meta: { [claim]: '2026-07-28' } }),
    'request, claim not a string': call({ name: 'echo', _meta: { [claim]: 2026 } }),
    'request, claim of a 2025 revision': call({ name: 'echo', _meta: { ...meta, [claim]: '2025-11-25' } }),
    initialize,
    'initialize with an envelope': { ...initialize, params: { ...initialize.params, _meta: meta } },
    notification: { jsonrpc: '2.0', method: 'notifications/initialized' },
    'notification with a claim': {
      jsonrpc: '2.0',
      method: 'notifications/cancelled',
      params: { requestId: 1, _meta: { [claim]: '2026-07-28' } },
    },
    'result response': { jsonrpc: '2.0', id: 3, result: {} },
    'error response': { jsonrpc: '2.0', id: 3, error: { code: -1, message: 'no' } },
  };
  const headerSets: Array<Record<string, string | string[]>> = [
    {},
    { 'mcp-protocol-version': '2025-11-25' },
    { 'mcp-protocol-version': '2024-11-05' },
    { 'mcp-protocol-version': ' 2025-11-25 ' },
    { 'mcp-protocol-version': '1999-01-01' },
    { 'mcp-protocol-version': '2026-07-28' },
    { 'mcp-protocol-version': ' 2026-07-28' },
    { 'mcp-protocol-version': '2099-01-01' },
    { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call' },
    { 'mcp-protocol-version': ['2025-11-25', '2026-07-28'] },
    { 'mcp-method': 'tools/list' },
  ];
  const cases = Object.entries(messages).flatMap(([name, message]) =>
    headerSets.map((headers) => [name, JSON.stringify(headers), headers, message] as const),
  );
  test.each(cases)('%s, headers %s', (_name, _h, headers, message) => {
    expect(postLane(headers, message)).toEqual(classifiedLane(headers, message));
  });
});

describe('sessionOperationLane', () => {
  test('GET/DELETE without a version or with a supported one belong to the session', () => {
    expect(sessionOperationLane({})).toEqual({ lane: 'session' });
    expect(sessionOperationLane({ 'mcp-protocol-version': '2025-06-18' })).toEqual({ lane: 'session' });
  });

  test('the stateless era has no session operations: 405, Allow: POST; an unknown old version: 400', () => {
    expect(sessionOperationLane({ 'mcp-protocol-version': '2026-07-28' })).toEqual({
      lane: 'refused',
      refusal: { status: 405, code: -32600, message: expect.any(String), allow: 'POST' },
    });
    expect(sessionOperationLane({ 'mcp-protocol-version': '1999-01-01' })).toMatchObject({
      lane: 'refused',
      refusal: { status: 400 },
    });
  });
});
