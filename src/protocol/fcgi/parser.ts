// Incremental record parser: bytes in any split, records out.

import { ProtocolError } from './codec.js';
import { FCGI_DATA, FCGI_HEADER_LEN, FCGI_PARAMS, FCGI_STDIN, FCGI_VERSION_1 } from './constants.js';

/** The content of every empty record (handlers only read content). */
const EMPTY = Buffer.alloc(0);

/**
 * Called once per record, except for a stream record (PARAMS, STDIN, DATA)
 * split across chunks: its content comes in several calls, in order, none of
 * them empty. An empty content still means the end of that stream.
 */
export type RecordHandler = (type: number, requestId: number, content: Buffer) => void;

/**
 * A record whose content is a piece of a request's byte stream, which may be
 * handed on in parts. Not an empty one: that ends its stream, and so is
 * handed on whole.
 */
function inParts(header: Buffer, offset: number): boolean {
  const type = header[offset + 1]!;
  return (type === FCGI_STDIN || type === FCGI_DATA || type === FCGI_PARAMS)
    && (header[offset + 2]! | header[offset + 3]!) !== 0
    && (header[offset + 4]! | header[offset + 5]!) !== 0;
}

/**
 * Finds record boundaries in a byte stream. A record that lies whole inside
 * one chunk is handed on as a view of that chunk, without a copy. A stream
 * record cut by a chunk boundary is handed on in parts, also without a copy
 * (request bodies arrive in records of up to 64 KiB, which the socket's reads
 * cut anywhere). Any other record cut that way is gathered into one buffer.
 */
export class RecordParser {
  private readonly onRecord: RecordHandler;
  /** The first bytes of a header cut by a chunk boundary (fewer than 8). */
  private head: Buffer | null = null;
  /** A whole record (header, content, padding) being filled across chunks. */
  private record: Buffer | null = null;
  private filled = 0;
  /** A stream record being handed on in parts: what is left of its content and padding. */
  private partType = 0;
  private partId = 0;
  private contentLeft = 0;
  private paddingLeft = 0;
  private partDone = 0;
  /** halt() was called: stop at the next record boundary and keep the rest unparsed. */
  private halting = false;
  /** Once halted: the bytes after the boundary, unparsed (copies: chunks may be borrowed). */
  private rest: Buffer[] | null = null;

  constructor(onRecord: RecordHandler) {
    this.onRecord = onRecord;
  }

  /**
   * Stops handing on records at the last record boundary: a record half in
   * (a header, or a record gathered whole) is given back, unparsed, with
   * what follows, for takeRest(); a stream record being handed on in parts
   * is finished first. A connection handed to another process goes with
   * exactly those bytes.
   */
  halt(): void {
    if (this.rest !== null) return;
    this.halting = true;
    if (this.head !== null) {
      this.rest = [this.head];
      this.head = null;
    } else if (this.record !== null) {
      this.rest = [this.record.subarray(0, this.filled)];
      this.record = null;
    } else if (this.contentLeft === 0 && this.paddingLeft === 0) {
      this.rest = [];
    }
  }

  /** Halted at a record boundary: no record is half in, and no record will be handed on. */
  get halted(): boolean {
    return this.rest !== null;
  }

  /** The bytes received after the boundary where the parser halted. */
  takeRest(): Buffer {
    const rest = this.rest ?? [];
    return rest.length === 1 ? rest[0]! : Buffer.concat(rest);
  }

  /** Throws ProtocolError on a record that is not FastCGI 1.0. */
  push(chunk: Buffer): void {
    if (this.rest !== null) {
      if (chunk.length > 0) this.rest.push(Buffer.from(chunk));
      return;
    }
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
      // The header alone is whole: what follows it comes from this chunk on.
      const size = recordSize(header, 0);
      if (size === FCGI_HEADER_LEN) {
        this.emit(header, 0);
      } else if (inParts(header, 0)) {
        this.startParts(header, 0);
      } else {
        this.record = Buffer.allocUnsafe(size);
        header.copy(this.record, 0);
        this.filled = FCGI_HEADER_LEN;
      }
    }
    if (this.contentLeft > 0 || this.paddingLeft > 0) {
      offset = this.continueParts(chunk, offset);
      if (this.contentLeft > 0 || this.paddingLeft > 0) return;
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
    if (this.stopHere(chunk, offset)) return;
    this.parse(chunk, offset);
  }

  /** At a record boundary while halting: keeps chunk[offset..] as the rest (after what halt() gave back). */
  private stopHere(chunk: Buffer, offset: number): boolean {
    if (!this.halting) return false;
    this.rest ??= [];
    if (offset < chunk.length) this.rest.push(Buffer.from(chunk.subarray(offset)));
    return true;
  }

  /** Bytes of an unfinished record received so far: non-zero at EOF means a truncated record. */
  get pendingBytes(): number {
    if (this.head !== null) return this.head.length;
    if (this.record !== null) return this.filled;
    return this.contentLeft > 0 || this.paddingLeft > 0 ? this.partDone : 0;
  }

  private parse(buf: Buffer, offset: number): void {
    const end = buf.length;
    while (end - offset >= FCGI_HEADER_LEN) {
      const size = recordSize(buf, offset);
      if (offset + size > end) break;
      this.emit(buf, offset);
      offset += size;
      if (this.stopHere(buf, offset)) return;
    }
    if (offset === end) return;
    if (end - offset < FCGI_HEADER_LEN) {
      this.head = Buffer.from(buf.subarray(offset));
    } else if (inParts(buf, offset)) {
      this.startParts(buf, offset);
      this.continueParts(buf, offset + FCGI_HEADER_LEN);
    } else {
      const record = Buffer.allocUnsafe(recordSize(buf, offset));
      this.filled = buf.copy(record, 0, offset, end);
      this.record = record;
    }
  }

  /** A stream record whose header is at buf[offset]: its content will come in parts. */
  private startParts(buf: Buffer, offset: number): void {
    this.partType = buf[offset + 1]!;
    this.partId = (buf[offset + 2]! << 8) | buf[offset + 3]!;
    this.contentLeft = (buf[offset + 4]! << 8) | buf[offset + 5]!;
    this.paddingLeft = buf[offset + 6]!;
    this.partDone = FCGI_HEADER_LEN;
  }

  /** Hands on what `chunk` holds of the current stream record; returns the offset after it. */
  private continueParts(chunk: Buffer, offset: number): number {
    const content = Math.min(this.contentLeft, chunk.length - offset);
    if (content > 0) {
      this.contentLeft -= content;
      this.partDone += content;
      this.onRecord(this.partType, this.partId, chunk.subarray(offset, offset + content));
      offset += content;
    }
    if (this.contentLeft === 0) {
      const padding = Math.min(this.paddingLeft, chunk.length - offset);
      this.paddingLeft -= padding;
      this.partDone += padding;
      offset += padding;
    }
    return offset;
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
