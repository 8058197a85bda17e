/**
 * The wire format of everything that crosses Redis between instances. A payload is one line of
 * JSON header, a newline, and (for MCP traffic) the JSON-RPC message exactly as the client or
 * server wrote it: relays forward the raw text without parsing or re-serialising it.
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

/**
 * Code name → wire name of the header fields that travel abbreviated: every payload carries a
 * header, so the wire keeps them short; the code reads them in full. `encode` and `decode` are the
 * only places that know both.
 */
const WIRE_NAMES = new Map([
  ['type', 't'],
  ['final', 'f'],
  ['eventId', 'e'],
  ['relayInstance', 'ri'],
  ['relayId', 'reply'],
  ['httpRequestId', 'rid'],
  ['resumable', 'rs'],
  ['ifIdle', 'idle'],
]);
const CODE_NAMES = new Map([...WIRE_NAMES].map(([code, wire]) => [wire, code]));

/** Client → host, on the session's inbound channel. */
export const InboundHeaderSchema = z.discriminatedUnion('type', [
  // An MCP message. `relayId` names the relay awaiting the answer (requests only) on
  // `relayInstance`, the instance holding the HTTP request; `httpRequestId` correlates the logs of
  // both instances. `resumable`: the client can resume the request's SSE stream (it accepts SSE
  // and speaks 2025-11-25+), so the host logs the stream (src/routing/eventLog.ts) and may close
  // it early (polling).
  z.object({
    type: z.literal('msg'),
    relayInstance: z.string(),
    relayId: z.string().optional(),
    httpRequestId: z.string().optional(),
    caller: CallerSchema,
    resumable: z.boolean().optional(),
  }),
  // Ends the session. `ifIdle`: only if it is idle (src/routing/sessionCap.ts); a busy host answers
  // with a 409 `error` instead.
  z.object({
    type: z.literal('delete'),
    relayInstance: z.string(),
    relayId: z.string(),
    httpRequestId: z.string().optional(),
    ifIdle: z.boolean().optional(),
  }),
  // Keeps an idle session alive while a GET stream is open on some instance.
  z.object({ type: z.literal('touch') }),
]);
export type InboundHeader = z.infer<typeof InboundHeaderSchema>;

/** Host → the instance holding a client request, on that request's reply channel. */
export const ReplyHeaderSchema = z.discriminatedUnion('type', [
  // `final`: this message is the final response; the stream ends after it. `eventId`: its SSE
  // event id, when the request's stream is resumable (src/routing/eventLog.ts).
  z.object({ type: z.literal('msg'), final: z.boolean().optional(), eventId: z.string().optional() }),
  // The request is still being worked on (sent when the host has been quiet for a while).
  z.object({ type: z.literal('alive') }),
  // The request ended without a response (cancelled by the client, session closed).
  z.object({ type: z.literal('end'), reason: z.string() }),
  // The host refused the message; `status` is the HTTP status the relay should answer with.
  z.object({ type: z.literal('error'), status: z.number(), code: z.number(), message: z.string() }),
  z.object({ type: z.literal('deleted') }),
  // The server closes the request's stream before its answer (SEP-1699 polling): the client
  // reconnects with Last-Event-ID and gets the rest on the resumed stream.
  z.object({ type: z.literal('close') }),
]);
export type ReplyHeader = z.infer<typeof ReplyHeaderSchema>;

/** Host → whichever instance holds the session's standalone GET stream. */
export const OutboundHeaderSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('msg'), eventId: z.string().optional() }),
  z.object({ type: z.literal('closed') }),
]);
export type OutboundHeader = z.infer<typeof OutboundHeaderSchema>;

/** A header and the raw JSON-RPC text after it. */
export interface Envelope<T> {
  header: T;
  body: string | undefined;
}

/** The payload of a header (fields left undefined are left out) and an optional body. */
export function encode(header: InboundHeader | ReplyHeader | OutboundHeader, body?: string): string {
  const wire: Record<string, unknown> = {};
  for (const name in header) {
    const value = (header as Record<string, unknown>)[name];
    if (value !== undefined) wire[WIRE_NAMES.get(name) ?? name] = value;
  }
  const h = JSON.stringify(wire);
  return body === undefined ? h : `${h}\n${body}`;
}

export class EnvelopeError extends Error {
  override name = 'EnvelopeError';
}

export function decode<T>(schema: z.ZodType<T>, payload: string): Envelope<T> {
  const nl = payload.indexOf('\n');
  const headText = nl === -1 ? payload : payload.slice(0, nl);
  let raw: unknown;
  try {
    raw = JSON.parse(headText);
  } catch {
    throw new EnvelopeError('envelope header is not JSON');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new EnvelopeError('envelope header is not an object');
  const named: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(raw)) {
    // Only wire names count: a field under its code name is not part of the format.
    if (!WIRE_NAMES.has(name)) named[CODE_NAMES.get(name) ?? name] = value;
  }
  const parsed = schema.safeParse(named);
  if (!parsed.success) throw new EnvelopeError(`bad envelope header: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  return { header: parsed.data, body: nl === -1 ? undefined : payload.slice(nl + 1) };
}

/**
 * Every subscriber's way in: a payload that does not decode is logged and dropped, never thrown
 * into the shared subscriber loop (one bad publisher must not disturb the other sessions).
 */
export function decodeOrDrop<T>(
  schema: z.ZodType<T>,
  payload: string,
  log: Logger,
  what: string,
): Envelope<T> | undefined {
  try {
    return decode(schema, payload);
  } catch (err) {
    log.warn({ err: (err as Error).message }, `malformed ${what} envelope dropped`);
    return undefined;
  }
}
