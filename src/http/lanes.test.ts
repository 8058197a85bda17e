import { describe, expect, test } from '@jest/globals';
import type { JSONRPCMessage } from '@modelcontextprotocol/server';
import { postLane, sessionOperationLane } from './lanes.js';

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
