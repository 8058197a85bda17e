/**
 * The wire format of everything that crosses Redis. A payload is one line of JSON header, a
 * newline, and (for MCP traffic) the JSON-RPC message exactly as the client or server wrote it:
 * relays forward the raw text without parsing or re-serialising it.
 *
 * Headers are parsed with zod: a Redis payload is an edge like any HTTP body.
 * Bearer tokens never travel here; only the verified identity they yielded does.
 */
import { z } from 'zod';
import type { Logger } from '../observability/logger.js';

/** The verified identity of the caller, minus the token itself (no token passthrough). */
export const CallerSchema = z.object({
  userId: z.string(),
  clientId: z.string(),
  scopes: z.array(z.string()),
  expiresAt: z.number().optional(),
  resource: z.string().optional(),
});
export type Caller = z.infer<typeof CallerSchema>;

/** Client → host, on the session's inbound channel. */
export const InboundHeaderSchema = z.discriminatedUnion('t', [
  // An MCP message. `reply` is the relay id awaiting the answer (requests only); `ri` is the
  // instance holding the HTTP request; `rid` the HTTP request id for cross-instance log correlation.
  // `rs`: the client can resume the request's SSE stream (it accepts SSE and speaks 2025-11-25+),
  // so the host logs the stream (src/routing/eventLog.ts) and may close it early (polling).
  z.object({
    t: z.literal('msg'),
    ri: z.string(),
    reply: z.string().optional(),
    rid: z.string().optional(),
    caller: CallerSchema,
    rs: z.boolean().optional(),
  }),
  // Ends the session. `idle`: only if it is idle (src/routing/sessionCap.ts); a busy host answers
  // with a 409 `error` instead.
  z.object({ t: z.literal('delete'), ri: z.string(), reply: z.string(), rid: z.string().optional(), idle: z.boolean().optional() }),
  // Keeps an idle session alive while a GET stream is open on some instance.
  z.object({ t: z.literal('touch') }),
]);
export type InboundHeader = z.infer<typeof InboundHeaderSchema>;

/** Host → the instance holding a client request, on that request's reply channel. */
export const ReplyHeaderSchema = z.discriminatedUnion('t', [
  // `f`: this message is the final response; the stream ends after it. `e`: its SSE event id, when
  // the request's stream is resumable (src/routing/eventLog.ts).
  z.object({ t: z.literal('msg'), f: z.boolean().optional(), e: z.string().optional() }),
  // The request is still being worked on (sent when the host has been quiet for a while).
  z.object({ t: z.literal('alive') }),
  // The request ended without a response (cancelled by the client, session closed).
  z.object({ t: z.literal('end'), reason: z.string() }),
  // The host refused the message; `status` is the HTTP status the relay should answer with.
  z.object({ t: z.literal('error'), status: z.number(), code: z.number(), message: z.string() }),
  z.object({ t: z.literal('deleted') }),
  // The server closes the request's stream before its answer (SEP-1699 polling): the client
  // reconnects with Last-Event-ID and gets the rest on the resumed stream.
  z.object({ t: z.literal('close') }),
]);
export type ReplyHeader = z.infer<typeof ReplyHeaderSchema>;

/** Host → whichever instance holds the session's standalone GET stream. */
export const OutboundHeaderSchema = z.discriminatedUnion('t', [
  z.object({ t: z.literal('msg'), e: z.string().optional() }),
  z.object({ t: z.literal('closed') }),
]);
export type OutboundHeader = z.infer<typeof OutboundHeaderSchema>;

export function encode(header: object, body?: string): string {
  const h = JSON.stringify(header);
  return body === undefined ? h : `${h}\n${body}`;
}

export class EnvelopeError extends Error {
  override name = 'EnvelopeError';
}

export function decode<T>(schema: z.ZodType<T>, payload: string): { header: T; body: string | undefined } {
  const nl = payload.indexOf('\n');
  const headText = nl === -1 ? payload : payload.slice(0, nl);
  let raw: unknown;
  try {
    raw = JSON.parse(headText);
  } catch {
    throw new EnvelopeError('envelope header is not JSON');
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new EnvelopeError(`bad envelope header: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  return { header: parsed.data, body: nl === -1 ? undefined : payload.slice(nl + 1) };
}

/**
 * Every subscriber's way in: a payload that does not decode is logged and dropped, never thrown
 * into the shared subscriber loop (one bad publisher must not disturb the other sessions).
 */
export function decodeOrDrop<T>(schema: z.ZodType<T>, payload: string, log: Logger, what: string): { header: T; body: string | undefined } | undefined {
  try {
    return decode(schema, payload);
  } catch (err) {
    log.warn({ err: (err as Error).message }, `malformed ${what} envelope dropped`);
    return undefined;
  }
}
