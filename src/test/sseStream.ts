/**
 * A raw Server-Sent Events reader for tests that look at the wire: opens `GET <base>/sse` (or any
 * URL, or a POST whose answer streams) and hands back one event at a time, skipping keep-alive
 * comments.
 */
export interface SseEvent {
  event: string;
  data: string;
  /** The event's `id` field ('' when it has none). */
  id: string;
}

export interface RawSse {
  status: number;
  /** Next event; rejects if the stream ends first. */
  next(): Promise<SseEvent>;
  /** Resolves when the server ends the stream. */
  ended(): Promise<void>;
  close(): void;
}

export async function openRawSse(
  url: string,
  headers: Record<string, string>,
  post?: { body: string },
): Promise<RawSse> {
  const ac = new AbortController();
  const res = await fetch(url, {
    headers: { Accept: 'text/event-stream', ...headers },
    signal: ac.signal,
    ...(post ? { method: 'POST', body: post.body } : {}),
  });
  if (!res.body || !(res.headers.get('content-type') ?? '').includes('text/event-stream')) {
    await res.text().catch(() => '');
    return {
      status: res.status,
      next: () => Promise.reject(new Error(`not an event stream (HTTP ${res.status})`)),
      ended: () => Promise.resolve(),
      close: () => ac.abort(),
    };
  }
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let done = false;
  const readMore = async (): Promise<boolean> => {
    if (done) return false;
    try {
      const chunk = await reader.read();
      if (chunk.done) done = true;
      else buffer += chunk.value;
    } catch {
      done = true;
    }
    return !done;
  };
  return {
    status: res.status,
    async next() {
      for (;;) {
        const end = buffer.indexOf('\n\n');
        if (end !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const lines = block.split('\n').filter((l) => !l.startsWith(':'));
          if (lines.length === 0) continue;
          const field = (name: string) =>
            lines
              .filter((l) => l.startsWith(`${name}:`))
              .map((l) => l.slice(name.length + 1).replace(/^ /, ''))
              .join('\n');
          return { event: field('event') || 'message', data: field('data'), id: field('id') };
        }
        if (!(await readMore())) throw new Error('event stream ended');
      }
    },
    async ended() {
      while (await readMore()) buffer = '';
    },
    close: () => ac.abort(),
  };
}
