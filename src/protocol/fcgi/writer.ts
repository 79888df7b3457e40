// The output side of a connection: records, coalesced per tick into as few writes as possible.

import type { Duplex } from 'node:stream';
import { writeEndRequest, writeHeader } from './codec.js';
import { FCGI_HEADER_LEN, FCGI_MAX_CONTENT, FCGI_REQUEST_COMPLETE, FCGI_STDOUT } from './constants.js';

/** Bodies up to this size are copied behind their header; larger ones are written as they are. */
const COPY_LIMIT = 16 * 1024;
/** Queued output beyond this is written at once rather than at the end of the tick. */
const QUEUE_FLUSH_BYTES = 64 * 1024;
/** Small records are laid out one after another in slabs of this size. */
const SLAB_SIZE = 64 * 1024;
const END_REQUEST_LEN = 2 * FCGI_HEADER_LEN + 8;

/**
 * The most bytes `text` can take in `encoding`, when that is cheap to know
 * and fits one record; -1 otherwise (then the text is encoded on its own).
 */
function maxBytes(text: string, encoding: BufferEncoding | undefined): number {
  const n = text.length;
  let max = -1;
  if (isUtf8(encoding)) max = 3 * n;
  else if (encoding === 'latin1' || encoding === 'binary' || encoding === 'ascii') max = n;
  return max <= FCGI_MAX_CONTENT ? max : -1;
}

function isUtf8(encoding: BufferEncoding | undefined): boolean {
  return encoding === undefined || encoding === 'utf8' || encoding === 'utf-8';
}

/** Buffer's own encoders, without write()'s argument parsing (the per-response hot path). */
type Encoder = (this: Buffer, text: string, offset: number, length: number) => number;
const { utf8Write, latin1Write } = Buffer.prototype as unknown as { utf8Write?: Encoder; latin1Write?: Encoder };

function encodeInto(buf: Buffer, text: string, offset: number, max: number, encoding: BufferEncoding | undefined): number {
  if (utf8Write !== undefined && isUtf8(encoding)) return utf8Write.call(buf, text, offset, max);
  if (latin1Write !== undefined && (encoding === 'latin1' || encoding === 'binary')) return latin1Write.call(buf, text, offset, max);
  return buf.write(text, offset, max, encoding);
}

/**
 * A tick's records are laid out back to back in a slab: a typical response
 * (its STDOUT, the empty STDOUT, END_REQUEST) is encoded straight into it
 * and leaves in one write, with no buffer of its own and no copy. A region
 * handed to the socket is never written again; a full slab is replaced, and
 * the old one lives on only as long as the socket holds its regions.
 */
export class RecordWriter {
  private readonly socket: Duplex;
  private slab = Buffer.allocUnsafe(SLAB_SIZE);
  /** The unflushed output in the slab: [start, pos). */
  private start = 0;
  private pos = 0;
  /** Earlier output of this tick, in order, when a large buffer came in between. */
  private readonly queue: Buffer[] = [];
  private queuedBytes = 0;
  private flushScheduled = false;
  /** Inside hold()/release(): the release writes, no flush is scheduled. */
  private held = false;

  constructor(socket: Duplex) {
    this.socket = socket;
  }

  /** False when the caller should wait for the socket's 'drain'. */
  get ok(): boolean {
    return !this.socket.writableNeedDrain;
  }

  /** Queues a whole record. */
  write(buf: Buffer): void {
    if (buf.length <= COPY_LIMIT) {
      this.reserve(buf.length);
      buf.copy(this.slab, this.pos);
      this.pos += buf.length;
    } else {
      this.seal();
      this.queue.push(buf);
    }
    this.wrote(buf.length);
  }

  /**
   * While the connection hands a read's records to the app: an app that
   * answers at once (most do) has its response written when the read is
   * done, without a flush scheduled for later in the tick.
   */
  hold(): void {
    this.held = true;
  }

  release(): void {
    this.held = false;
    if (this.queuedBytes > 0 && !this.flushScheduled) this.flush();
  }

  flush(): void {
    this.flushScheduled = false;
    this.seal();
    const queue = this.queue;
    this.queuedBytes = 0;
    if (queue.length > 0 && !this.socket.destroyed) {
      if (queue.length === 1) {
        this.socket.write(queue[0]!);
      } else {
        this.socket.cork();
        for (const b of queue) this.socket.write(b);
        this.socket.uncork();
      }
    }
    // The array is reused: write() is done with it.
    queue.length = 0;
  }

  /** STDOUT or STDERR records carrying `chunk`, in pieces of at most 65535 bytes. Returns the bytes. */
  stream(type: number, id: number, chunk: Buffer | string, encoding: BufferEncoding | undefined): number {
    if (typeof chunk !== 'string') {
      this.streamBuffer(type, id, chunk);
      return chunk.length;
    }
    if (chunk.length === 0) return 0;
    const max = maxBytes(chunk, encoding);
    if (max < 0) {
      const bytes = Buffer.from(chunk, encoding);
      this.streamBuffer(type, id, bytes);
      return bytes.length;
    }
    // Encode the text straight behind its header, then fill the header in.
    this.reserve(FCGI_HEADER_LEN + max);
    const at = this.pos;
    const length = encodeInto(this.slab, chunk, at + FCGI_HEADER_LEN, max, encoding);
    if (length === 0) return 0;
    writeHeader(this.slab, at, type, id, length);
    this.pos = at + FCGI_HEADER_LEN + length;
    this.wrote(FCGI_HEADER_LEN + length);
    return length;
  }

  /** A large buffer goes out as records of views of it, written together: one writev, not one per record. */
  private streamBuffer(type: number, id: number, data: Buffer): void {
    let bytes = 0;
    for (let offset = 0; offset < data.length; offset += FCGI_MAX_CONTENT) {
      const part = data.subarray(offset, offset + FCGI_MAX_CONTENT);
      const copy = part.length <= COPY_LIMIT;
      this.reserve(FCGI_HEADER_LEN + (copy ? part.length : 0));
      writeHeader(this.slab, this.pos, type, id, part.length);
      this.pos += FCGI_HEADER_LEN;
      if (copy) {
        part.copy(this.slab, this.pos);
        this.pos += part.length;
      } else {
        this.seal();
        this.queue.push(part);
      }
      bytes += FCGI_HEADER_LEN + part.length;
    }
    this.wrote(bytes);
  }

  /** The empty STDOUT that ends the stream and END_REQUEST, back to back. */
  endRequest(id: number, appStatus: number): void {
    this.reserve(END_REQUEST_LEN);
    writeHeader(this.slab, this.pos, FCGI_STDOUT, id, 0);
    writeEndRequest(this.slab, this.pos + FCGI_HEADER_LEN, id, appStatus, FCGI_REQUEST_COMPLETE);
    this.pos += END_REQUEST_LEN;
    this.wrote(END_REQUEST_LEN);
  }

  /** Room for `n` more bytes in the slab: a new slab when the current one is full. */
  private reserve(n: number): void {
    if (this.pos + n <= this.slab.length) return;
    this.seal();
    this.slab = Buffer.allocUnsafe(Math.max(SLAB_SIZE, n));
    this.start = this.pos = 0;
  }

  /** Moves the slab's unflushed output to the queue, before a buffer that follows it. */
  private seal(): void {
    if (this.pos === this.start) return;
    this.queue.push(this.slab.subarray(this.start, this.pos));
    this.start = this.pos;
  }

  private wrote(bytes: number): void {
    this.queuedBytes += bytes;
    if (this.queuedBytes >= QUEUE_FLUSH_BYTES) {
      this.flush();
    } else if (!this.flushScheduled && !this.held) {
      this.flushScheduled = true;
      process.nextTick(flushWriter, this);
    }
  }
}

function flushWriter(writer: RecordWriter): void {
  writer.flush();
}
