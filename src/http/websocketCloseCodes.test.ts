import { CloseCode, reasonOfPeerClose, SERVER_CLOSES } from './websocketCloseCodes.js';

describe('WebSocket close codes', () => {
  test('each code is one a server may send (RFC 6455 §7.4: registered 1000–1015 minus the reserved ones, or private 4000–4999), and unique', () => {
    // 1004 is reserved; 1005, 1006 and 1015 must never be sent in a close frame (RFC 6455 §7.4.1).
    const neverSent = new Set([1004, 1005, 1006, 1015]);
    const codes = Object.values(CloseCode);
    for (const code of codes) {
      expect((code >= 1000 && code <= 1015 && !neverSent.has(code)) || (code >= 4000 && code <= 4999)).toBe(true);
    }
    expect(new Set(codes).size).toBe(codes.length);
  });

  test('every close the server initiates fits a control frame (reason ≤ 123 bytes, RFC 6455 §5.5)', () => {
    for (const close of Object.values(SERVER_CLOSES)) {
      expect(Buffer.byteLength(close.text)).toBeLessThanOrEqual(123);
      expect(Object.values(CloseCode)).toContain(close.code);
    }
  });

  test('a peer close is labelled a protocol error only for the codes the ws library sends on bad frames', () => {
    expect(reasonOfPeerClose(CloseCode.Normal)).toBe('client_closed');
    expect(reasonOfPeerClose(CloseCode.GoingAway)).toBe('client_closed');
    expect(reasonOfPeerClose(CloseCode.MessageTooBig)).toBe('protocol_error');
    expect(reasonOfPeerClose(CloseCode.InvalidPayload)).toBe('protocol_error');
  });
});
