// The output side of a connection: records, coalesced per tick into as few writes as possible.

import type { Duplex } from 'node:stream';
import { writeEndRequest, writeHeader } from './codec.js';
import { FCGI_HEADER_LEN, FCGI_MAX_CONTENT, FCGI_REQUEST_COMPLETE, FCGI_STDOUT } from './constants.js';

/** Bodies up to this size are copied behind their header: one buffer, one write. */
const COPY_LIMIT = 16 * 1024;
/** Queued output beyond this is written at once rather than at the end of the tick. */
const QUEUE_FLUSH_BYTES = 64 * 1024;

export class RecordWriter {
  private readonly socket: Duplex;
  /** Records written in this tick, sent together by flush(). */
  private readonly queue: Buffer[] = [];
  private queuedBytes = 0;
  private flushScheduled = false;

  constructor(socket: Duplex) {
    this.socket = socket;
  }

  /** False when the caller should wait for the socket's 'drain'. */
  get ok(): boolean {
    return !this.socket.writableNeedDrain;
  }

  /**
   * Queues a record; what a tick writes leaves in one write(). Small
   * records (a response's STDOUT, its empty STDOUT and END_REQUEST) are
   * copied into one buffer: one system call, no writev bookkeeping.
   */
  write(buf: Buffer): void {
    this.queue.push(buf);
    this.queuedBytes += buf.length;
    if (this.queuedBytes >= QUEUE_FLUSH_BYTES) {
      this.flush();
    } else if (!this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(flushWriter, this);
    }
  }

  flush(): void {
    this.flushScheduled = false;
    const queue = this.queue;
    const bytes = this.queuedBytes;
    this.queuedBytes = 0;
    if (queue.length > 0 && !this.socket.destroyed) {
      if (queue.length === 1) {
        this.socket.write(queue[0]!);
      } else if (bytes <= COPY_LIMIT) {
        this.socket.write(Buffer.concat(queue, bytes));
      } else {
        this.socket.cork();
        for (const b of queue) this.socket.write(b);
        this.socket.uncork();
      }
    }
    // The array is reused: write() and concat() are done with it.
    queue.length = 0;
  }

  /** STDOUT or STDERR records carrying `chunk`, in pieces of at most 65535 bytes. Returns the bytes. */
  stream(type: number, id: number, chunk: Buffer | string, encoding: BufferEncoding | undefined): number {
    if (typeof chunk !== 'string') {
      this.streamBuffer(type, id, chunk);
      return chunk.length;
    }
    const length = Buffer.byteLength(chunk, encoding);
    if (length === 0) return 0;
    if (length > FCGI_MAX_CONTENT) {
      this.streamBuffer(type, id, Buffer.from(chunk, encoding));
      return length;
    }
    // Encode the text straight behind its header: one allocation, no copy.
    const buf = Buffer.allocUnsafe(FCGI_HEADER_LEN + length);
    writeHeader(buf, 0, type, id, length);
    buf.write(chunk, FCGI_HEADER_LEN, length, encoding);
    this.write(buf);
    return length;
  }

  private streamBuffer(type: number, id: number, data: Buffer): void {
    for (let offset = 0; offset < data.length; offset += FCGI_MAX_CONTENT) {
      const part = data.subarray(offset, offset + FCGI_MAX_CONTENT);
      if (part.length <= COPY_LIMIT) {
        const buf = Buffer.allocUnsafe(FCGI_HEADER_LEN + part.length);
        writeHeader(buf, 0, type, id, part.length);
        part.copy(buf, FCGI_HEADER_LEN);
        this.write(buf);
      } else {
        const header = Buffer.allocUnsafe(FCGI_HEADER_LEN);
        writeHeader(header, 0, type, id, part.length);
        this.write(header);
        this.write(part);
      }
    }
  }

  /** The empty STDOUT that ends the stream and END_REQUEST, in one buffer. */
  endRequest(id: number, appStatus: number): void {
    const end = Buffer.allocUnsafe(2 * FCGI_HEADER_LEN + 8);
    writeHeader(end, 0, FCGI_STDOUT, id, 0);
    writeEndRequest(end, FCGI_HEADER_LEN, id, appStatus, FCGI_REQUEST_COMPLETE);
    this.write(end);
  }
}

function flushWriter(writer: RecordWriter): void {
  writer.flush();
}
