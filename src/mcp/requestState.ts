/**
 * Sealing of multi-round-trip `requestState` (spec 2026-07-28 basic/patterns/mrtr). The state
 * round-trips through the client, so on re-entry it is attacker-controlled input: the spec
 * requires integrity protection for state that influences business logic, and recommends binding
 * it to the principal and a short lifetime. The SDK's `createRequestStateCodec` does the HMAC
 * (never hand-rolled here); this module adds what a fleet needs on top of it:
 *   - the key comes from a `StateKeySource` shared by every instance (routing/requestStateKeys.ts
 *     over Redis; one in-process key for stdio), because the retry may land on another instance;
 *   - keys rotate, so the sealed state names its key: `<kid>~<codec output>`, and a state sealed
 *     with the previous key still verifies until it expires;
 *   - the binding is the caller (user and OAuth client, from the verified token) and the method:
 *     state minted for Alice's `tools/call` is refused when Bob, or Alice through another client,
 *     echoes it.
 * Refusals are the SDK's: `ServerOptions.requestState.verify` throwing makes the seam answer the
 * spec's -32602 "Invalid or expired requestState" before the handler runs, on both eras (the
 * 2025 legacy shim verifies every round too).
 */
import { randomBytes } from 'node:crypto';
import { createRequestStateCodec, type RequestStateCodec, type ServerContext } from '@modelcontextprotocol/server';

/** A key `requestState` is sealed with: `kid` travels with the state, `secret` never does. */
export interface StateKey {
  kid: string;
  secret: Uint8Array;
}

/** Where sealing keys come from: the current one to seal with, any still-valid one to verify. */
export interface StateKeySource {
  current(): Promise<StateKey>;
  find(kid: string): Promise<StateKey | undefined>;
}

export interface RequestStateSeal {
  /** Seals `payload` for the caller and method of `ctx`. */
  mint(payload: unknown, ctx: ServerContext): Promise<string>;
  /** The payload of a state this server minted for the same caller and method; throws otherwise. */
  verify(state: string, ctx: ServerContext): Promise<unknown>;
}

const SEPARATOR = '~';

/** Who the state is bound to: the verified caller (never the raw token) and the method. */
function binding(ctx: ServerContext): string {
  const auth = ctx.http?.authInfo;
  const userId = auth?.extra?.['userId'];
  return JSON.stringify([typeof userId === 'string' ? userId : '', auth?.clientId ?? '', ctx.mcpReq.method]);
}

export function createRequestStateSeal(keys: StateKeySource, ttlSeconds: number): RequestStateSeal {
  // One codec per key: the codec imports its HMAC key once, so it is worth keeping.
  const codecs = new Map<string, RequestStateCodec>();
  const codecFor = (key: StateKey): RequestStateCodec => {
    let codec = codecs.get(key.kid);
    if (!codec) {
      codec = createRequestStateCodec({ key: key.secret, ttlSeconds, bind: binding });
      // Keys rotate rarely and only a few verify at once; a full map means old kids piled up.
      if (codecs.size >= 16) codecs.clear();
      codecs.set(key.kid, codec);
    }
    return codec;
  };
  return {
    async mint(payload, ctx) {
      const key = await keys.current();
      return `${key.kid}${SEPARATOR}${await codecFor(key).mint(payload, ctx)}`;
    },
    async verify(state, ctx) {
      const at = state.indexOf(SEPARATOR);
      // The thrown reasons reach logs only (the seam answers a fixed message), never the wire.
      if (at <= 0) throw new Error('malformed');
      const key = await keys.find(state.slice(0, at));
      if (!key) throw new Error('unknown key');
      return codecFor(key).verify(state.slice(at + 1), ctx);
    },
  };
}

/** One random key for a single process (stdio, in-process tests): nothing to share or rotate. */
export class InProcessStateKeys implements StateKeySource {
  private readonly key: StateKey = { kid: randomBytes(12).toString('base64url'), secret: randomBytes(32) };

  async current(): Promise<StateKey> {
    return this.key;
  }

  async find(kid: string): Promise<StateKey | undefined> {
    return kid === this.key.kid ? this.key : undefined;
  }
}
