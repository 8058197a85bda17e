/**
 * Cursor-based pagination (MCP 2025-11-25 basic/utilities/pagination). Cursors are opaque to
 * clients: base64url JSON naming the list and the offset, parsed with zod so a forged or stale
 * cursor is a clean -32602 instead of an exception deep in a handler.
 */
import { z } from 'zod';
import { InvalidCursorError } from './errors.js';

const CursorSchema = z.object({ l: z.string(), o: z.number().int().min(0) });

export interface Page<T> {
  items: T[];
  nextCursor?: string;
}

function encodeCursor(list: string, offset: number): string {
  return Buffer.from(JSON.stringify({ l: list, o: offset })).toString('base64url');
}

function decodeCursor(list: string, cursor: string): number {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidCursorError();
  }
  const parsed = CursorSchema.safeParse(raw);
  if (!parsed.success || parsed.data.l !== list) throw new InvalidCursorError();
  return parsed.data.o;
}

/** One page of `items`; `list` names the collection so a cursor from another list is refused. */
export function paginate<T>(list: string, items: readonly T[], cursor: string | undefined, pageSize: number): Page<T> {
  const offset = cursor === undefined ? 0 : decodeCursor(list, cursor);
  if (offset > items.length) throw new InvalidCursorError();
  const end = offset + pageSize;
  return {
    items: items.slice(offset, end),
    ...(end < items.length ? { nextCursor: encodeCursor(list, end) } : {}),
  };
}
