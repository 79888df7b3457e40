// An in-memory duplex standing in for a web server's connection in unit tests.

import { Duplex } from 'node:stream';
import { RecordParser } from '../../src/protocol/fcgi/parser.js';

export interface Record {
  type: number;
  requestId: number;
  content: Buffer;
}

export class MemorySocket extends Duplex {
  readonly written: Buffer[] = [];
  ended = false;

  constructor() {
    super({ allowHalfOpen: true });
    this.on('finish', () => {
      this.ended = true;
    });
  }

  /** Writes stay unfinished (as when the kernel's buffer is full) until finishWrites(). */
  holdWrites = false;
  private readonly unfinished: (() => void)[] = [];

  override _read(): void {}

  override _write(chunk: Buffer, _encoding: BufferEncoding, cb: (error?: Error | null) => void): void {
    this.written.push(chunk);
    this.done(cb);
  }

  override _writev(chunks: { chunk: Buffer }[], cb: (error?: Error | null) => void): void {
    for (const { chunk } of chunks) this.written.push(chunk);
    this.done(cb);
  }

  private done(cb: () => void): void {
    if (this.holdWrites) this.unfinished.push(cb);
    else cb();
  }

  /** The held writes finish, and those after them at once. */
  finishWrites(): void {
    this.holdWrites = false;
    for (const cb of this.unfinished.splice(0)) cb();
  }

  /** Everything written so far, as records. */
  records(): Record[] {
    const out: Record[] = [];
    new RecordParser((type, requestId, content) => out.push({ type, requestId, content: Buffer.from(content) })).push(
      Buffer.concat(this.written),
    );
    return out;
  }

  /** The STDOUT bytes of one request. */
  stdout(requestId: number, type = 6): Buffer {
    return Buffer.concat(this.records().filter((r) => r.type === type && r.requestId === requestId).map((r) => r.content));
  }
}

/** Lets queued ticks, microtasks and immediates run. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
}
