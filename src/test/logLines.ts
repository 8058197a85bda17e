import { Writable } from 'node:stream';

/** A pino destination that keeps one instance's log lines, parsed, for tests to read. */
export class LogLines extends Writable {
  readonly lines: Array<Record<string, unknown>> = [];
  override _write(chunk: Buffer, _e: BufferEncoding, cb: () => void) {
    for (const l of chunk.toString().split('\n').filter(Boolean))
      this.lines.push(JSON.parse(l) as Record<string, unknown>);
    cb();
  }
}
