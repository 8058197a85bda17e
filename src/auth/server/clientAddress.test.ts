import type { Request } from 'express';
import { clientAddress } from './clientAddress.js';

const req = (peer: string, xff?: string) =>
  ({ socket: { remoteAddress: peer }, headers: xff === undefined ? {} : { 'x-forwarded-for': xff } }) as unknown as Request;

describe('clientAddress', () => {
  test('0 trusted hops: X-Forwarded-For is ignored', () => {
    expect(clientAddress(req('10.0.0.1', '1.2.3.4'), 0)).toBe('10.0.0.1');
  });
  test('1 hop: the entry our proxy appended (rightmost), not what the client claimed', () => {
    expect(clientAddress(req('10.0.0.1', '6.6.6.6, 1.2.3.4'), 1)).toBe('1.2.3.4');
  });
  test('2 hops: second from the right', () => {
    expect(clientAddress(req('10.0.0.1', '6.6.6.6, 1.2.3.4, 10.0.0.2'), 2)).toBe('1.2.3.4');
  });
  test('fewer entries than hops: the farthest one available', () => {
    expect(clientAddress(req('10.0.0.1', '1.2.3.4'), 3)).toBe('1.2.3.4');
    expect(clientAddress(req('10.0.0.1'), 2)).toBe('10.0.0.1');
  });
  test('garbage in the trusted position falls back to the peer', () => {
    expect(clientAddress(req('10.0.0.1', 'not-an-ip'), 1)).toBe('10.0.0.1');
  });
});
