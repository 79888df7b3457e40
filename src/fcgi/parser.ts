// Incremental record parser: bytes in any split, whole records out.

import { ProtocolError } from './codec.js';
import { FCGI_HEADER_LEN, FCGI_VERSION_1 } from './constants.js';

/** The content of every empty record (handlers only read content). */
const EMPTY = Buffer.alloc(0);

export type RecordHandler = (type: number, requestId: number, content: Buffer) => void;

/**
 * Finds record boundaries in a byte stream. A record that lies whole inside
 * one chunk is handed on as a view of that chunk, without a copy. A record
 * split across chunks is gathered into one buffer of its final size, so a
 * 64 KiB record arriving in small pieces is copied once, not once per piece.
 */
export class RecordParser {
  private readonly onRecord: RecordHandler;
  /** The first bytes of a header cut by a chunk boundary (fewer than 8). */
  private head: Buffer | null = null;
  /** A whole record (header, content, padding) being filled across chunks. */
  private record: Buffer | null = null;
  private filled = 0;

  constructor(onRecord: RecordHandler) {
    this.onRecord = onRecord;
  }

  /** Throws ProtocolError on a record that is not FastCGI 1.0. */
  push(chunk: Buffer): void {
    let offset = 0;
    if (this.head !== null) {
      const need = FCGI_HEADER_LEN - this.head.length;
      if (chunk.length < need) {
        this.head = Buffer.concat([this.head, chunk]);
        return;
      }
      const header = Buffer.concat([this.head, chunk.subarray(0, need)]);
      this.head = null;
      offset = need;
      this.startRecord(header, 0, header.length);
    }
    if (this.record !== null) {
      const record = this.record;
      const n = Math.min(record.length - this.filled, chunk.length - offset);
      chunk.copy(record, this.filled, offset, offset + n);
      this.filled += n;
      offset += n;
      if (this.filled < record.length) return;
      this.record = null;
      this.emit(record, 0);
    }
    this.parse(chunk, offset);
  }

  /** Bytes held back waiting for the rest of a record: non-zero at EOF means a truncated record. */
  get pendingBytes(): number {
    return this.head !== null ? this.head.length : this.record !== null ? this.filled : 0;
  }

  private parse(buf: Buffer, offset: number): void {
    const end = buf.length;
    while (end - offset >= FCGI_HEADER_LEN) {
      const size = recordSize(buf, offset);
      if (offset + size > end) break;
      this.emit(buf, offset);
      offset += size;
    }
    if (offset === end) return;
    if (end - offset < FCGI_HEADER_LEN) {
      this.head = Buffer.from(buf.subarray(offset));
    } else {
      this.startRecord(buf, offset, end);
    }
  }

  /** Begins gathering a record whose first bytes are buf[offset, end). */
  private startRecord(buf: Buffer, offset: number, end: number): void {
    const record = Buffer.allocUnsafe(recordSize(buf, offset));
    const n = Math.min(record.length, end - offset);
    buf.copy(record, 0, offset, offset + n);
    if (n === record.length) {
      this.emit(record, 0);
      return;
    }
    this.record = record;
    this.filled = n;
  }

  private emit(buf: Buffer, offset: number): void {
    const contentStart = offset + FCGI_HEADER_LEN;
    const contentLength = (buf[offset + 4]! << 8) | buf[offset + 5]!;
    this.onRecord(
      buf[offset + 1]!,
      (buf[offset + 2]! << 8) | buf[offset + 3]!,
      // Every request ends two streams with an empty record: no view needed.
      contentLength === 0 ? EMPTY : buf.subarray(contentStart, contentStart + contentLength),
    );
  }
}

/** Total size of the record whose header starts at `offset`; checks the version. */
function recordSize(buf: Buffer, offset: number): number {
  if (buf[offset] !== FCGI_VERSION_1) {
    throw new ProtocolError(`unsupported version ${buf[offset]} (only FastCGI 1 is spoken)`);
  }
  return FCGI_HEADER_LEN + ((buf[offset + 4]! << 8) | buf[offset + 5]!) + buf[offset + 6]!;
}
