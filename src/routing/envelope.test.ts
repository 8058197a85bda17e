import {
  decode,
  encode,
  EnvelopeError,
  InboundHeaderSchema,
  OutboundHeaderSchema,
  ReplyHeaderSchema,
} from './envelope.js';

describe('envelopes', () => {
  test('carry the raw JSON-RPC text after the header line, untouched', () => {
    const raw = '{"jsonrpc":"2.0","id":1,"method":"ping"}';
    const payload = encode(
      { type: 'msg', relayInstance: 'i1', relayId: 'r1', caller: { userId: 'u', clientId: 'c', scopes: [] } },
      raw,
    );
    const { header, body } = decode(InboundHeaderSchema, payload);
    expect(header).toMatchObject({ type: 'msg', relayInstance: 'i1', relayId: 'r1' });
    expect(body).toBe(raw);
  });

  test('bodies may contain newlines (a pretty-printed client message)', () => {
    const raw = '{\n  "jsonrpc": "2.0",\n  "method": "x"\n}';
    expect(decode(InboundHeaderSchema, encode({ type: 'touch' }, raw)).body).toBe(raw);
  });

  test('keep the short field names on the wire, and read them in full', () => {
    const caller = { userId: 'u', clientId: 'c', scopes: [] };
    const inbound = encode({
      type: 'msg',
      relayInstance: 'i',
      relayId: 'r',
      httpRequestId: 'q',
      caller,
      resumable: true,
    });
    expect(JSON.parse(inbound)).toEqual({ t: 'msg', ri: 'i', reply: 'r', rid: 'q', caller, rs: true });
    expect(JSON.parse(encode({ type: 'delete', relayInstance: 'i', relayId: 'r', ifIdle: true }))).toEqual({
      t: 'delete',
      ri: 'i',
      reply: 'r',
      idle: true,
    });
    expect(encode({ type: 'msg', final: true, eventId: 'get_1-0' }, '{}')).toBe(
      '{"t":"msg","f":true,"e":"get_1-0"}\n{}',
    );
    // Fields left undefined are left out.
    expect(encode({ type: 'msg', final: undefined, eventId: undefined })).toBe('{"t":"msg"}');
    expect(decode(ReplyHeaderSchema, '{"t":"msg","f":true,"e":"x"}').header).toEqual({
      type: 'msg',
      final: true,
      eventId: 'x',
    });
    expect(decode(OutboundHeaderSchema, '{"t":"closed"}').header).toEqual({ type: 'closed' });
    // The code names are not part of the format.
    expect(() => decode(ReplyHeaderSchema, '{"type":"msg"}')).toThrow(EnvelopeError);
    expect(decode(ReplyHeaderSchema, '{"t":"msg","final":true}').header).toEqual({ type: 'msg' });
  });

  test('reject headers that are not JSON or do not match the schema', () => {
    expect(() => decode(ReplyHeaderSchema, 'nonsense')).toThrow(EnvelopeError);
    expect(() => decode(ReplyHeaderSchema, '["t","msg"]')).toThrow(EnvelopeError);
    expect(() => decode(ReplyHeaderSchema, 'null')).toThrow(EnvelopeError);
    expect(() => decode(ReplyHeaderSchema, '{"t":"msg","f":"yes"}')).toThrow(EnvelopeError);
    expect(() => decode(InboundHeaderSchema, '{"t":"msg","ri":"x"}')).toThrow(EnvelopeError); // no caller
  });

  test('never carry a bearer token: the caller schema has no place for one', () => {
    const caller = { userId: 'u', clientId: 'c', scopes: [], token: 'secret' };
    const { header } = decode(InboundHeaderSchema, encode({ type: 'msg', relayInstance: 'i', caller }, '{}'));
    expect(JSON.stringify(header)).not.toContain('secret');
  });
});
