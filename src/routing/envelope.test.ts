import { decode, encode, EnvelopeError, InboundHeaderSchema, ReplyHeaderSchema } from './envelope.js';

describe('envelopes', () => {
  test('carry the raw JSON-RPC text after the header line, untouched', () => {
    const raw = '{"jsonrpc":"2.0","id":1,"method":"ping"}';
    const payload = encode({ t: 'msg', ri: 'i1', reply: 'r1', caller: { userId: 'u', clientId: 'c', scopes: [] } }, raw);
    const { header, body } = decode(InboundHeaderSchema, payload);
    expect(header).toMatchObject({ t: 'msg', ri: 'i1', reply: 'r1' });
    expect(body).toBe(raw);
  });

  test('bodies may contain newlines (a pretty-printed client message)', () => {
    const raw = '{\n  "jsonrpc": "2.0",\n  "method": "x"\n}';
    expect(decode(InboundHeaderSchema, encode({ t: 'touch' }, raw)).body).toBe(raw);
  });

  test('reject headers that are not JSON or do not match the schema', () => {
    expect(() => decode(ReplyHeaderSchema, 'nonsense')).toThrow(EnvelopeError);
    expect(() => decode(ReplyHeaderSchema, '{"t":"msg","f":"yes"}')).toThrow(EnvelopeError);
    expect(() => decode(InboundHeaderSchema, '{"t":"msg","ri":"x"}')).toThrow(EnvelopeError); // no caller
  });

  test('never carry a bearer token: the caller schema has no place for one', () => {
    const { header } = decode(
      InboundHeaderSchema,
      encode({ t: 'msg', ri: 'i', caller: { userId: 'u', clientId: 'c', scopes: [], token: 'secret' } }, '{}'),
    );
    expect(JSON.stringify(header)).not.toContain('secret');
  });
});
