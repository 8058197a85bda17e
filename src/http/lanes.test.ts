import { describe, expect, test } from '@jest/globals';
import type { JSONRPCMessage } from '@modelcontextprotocol/server';
import { postLane, sessionOperationLane } from './lanes.js';

const ping: JSONRPCMessage = { jsonrpc: '2.0', id: 1, method: 'ping' };
const enveloped: JSONRPCMessage = {
  jsonrpc: '2.0',
  id: 2,
  method: 'tools/list',
  params: { _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28' } },
};

describe('postLane', () => {
  test.each([{}, { 'mcp-protocol-version': '2025-11-25' }, { 'mcp-protocol-version': '2024-11-05' }])(
    'a message without an envelope, headers %j, belongs to a 2025 session',
    (headers) => expect(postLane(headers, ping)).toEqual({ lane: 'session' }),
  );

  test('an unsupported 2025-era version is refused with 400 -32600', () => {
    const lane = postLane({ 'mcp-protocol-version': '1999-01-01' }, ping);
    expect(lane).toEqual({ lane: 'refused', refusal: { status: 400, code: -32600, message: expect.stringContaining('1999-01-01') } });
  });

  test('2026-07-28 traffic, by header or by _meta claim, gets the legacy-only answer (400, plain -32600)', () => {
    for (const lane of [postLane({ 'mcp-protocol-version': '2026-07-28' }, ping), postLane({}, enveloped)]) {
      expect(lane).toEqual({ lane: 'refused', refusal: { status: 400, code: -32600, message: expect.stringContaining('2026-07-28') } });
    }
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
    expect(sessionOperationLane({ 'mcp-protocol-version': '1999-01-01' })).toMatchObject({ lane: 'refused', refusal: { status: 400 } });
  });
});
