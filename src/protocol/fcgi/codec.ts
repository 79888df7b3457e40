// Encoding and decoding of FastCGI records and name-value pairs (spec 3.3, 3.4).

import {
  FCGI_END_REQUEST,
  FCGI_HEADER_LEN,
  FCGI_MAX_CONTENT,
  FCGI_VERSION_1,
} from './constants.js';
import { addParam } from '../params.js';

export class ProtocolError extends Error {
  override name = 'ProtocolError';
  constructor(message: string) {
    super(`fcgi: ${message}`);
  }
}

/** Writes the 8-byte record header at `offset` of `buf`. */
export function writeHeader(
  buf: Buffer,
  offset: number,
  type: number,
  requestId: number,
  contentLength: number,
  paddingLength = 0,
): void {
  buf[offset] = FCGI_VERSION_1;
  buf[offset + 1] = type;
  buf[offset + 2] = requestId >> 8;
  buf[offset + 3] = requestId & 0xff;
  buf[offset + 4] = contentLength >> 8;
  buf[offset + 5] = contentLength & 0xff;
  buf[offset + 6] = paddingLength;
  buf[offset + 7] = 0;
}

/**
 * One record with `content` (at most 65535 bytes) and padding to a multiple
 * of 8 when `pad` is set: the spec recommends it, nothing requires it.
 */
export function encodeRecord(
  type: number,
  requestId: number,
  content: Uint8Array = Buffer.alloc(0),
  pad = false,
): Buffer {
  if (content.length > FCGI_MAX_CONTENT) {
    throw new RangeError(`record content of ${content.length} bytes exceeds ${FCGI_MAX_CONTENT}`);
  }
  const padding = pad ? (8 - (content.length % 8)) % 8 : 0;
  const buf = Buffer.alloc(FCGI_HEADER_LEN + content.length + padding);
  writeHeader(buf, 0, type, requestId, content.length, padding);
  buf.set(content, FCGI_HEADER_LEN);
  return buf;
}

/** FCGI_END_REQUEST with its 8-byte body, written at `offset` (16 bytes). */
export function writeEndRequest(buf: Buffer, offset: number, requestId: number, appStatus: number, protocolStatus: number): void {
  writeHeader(buf, offset, FCGI_END_REQUEST, requestId, 8);
  buf.writeUInt32BE(appStatus >>> 0, offset + 8);
  buf[offset + 12] = protocolStatus;
  buf[offset + 13] = buf[offset + 14] = buf[offset + 15] = 0;
}

/** FCGI_END_REQUEST with its 8-byte body. */
export function encodeEndRequest(requestId: number, appStatus: number, protocolStatus: number): Buffer {
  const buf = Buffer.allocUnsafe(FCGI_HEADER_LEN + 8);
  writeEndRequest(buf, 0, requestId, appStatus, protocolStatus);
  return buf;
}

function lengthSize(n: number): number {
  return n > 127 ? 4 : 1;
}

function writeLength(buf: Buffer, offset: number, n: number): number {
  if (n > 127) {
    buf.writeUInt32BE((n | 0x80000000) >>> 0, offset);
    return offset + 4;
  }
  buf[offset] = n;
  return offset + 1;
}

/** Name-value pairs in the 1- or 4-byte length encoding of spec 3.4. */
export function encodeParams(pairs: Iterable<readonly [string, string]>): Buffer {
  const parts: [Buffer, Buffer][] = [];
  let size = 0;
  for (const [name, value] of pairs) {
    const n = Buffer.from(name, 'latin1');
    const v = Buffer.from(value, 'latin1');
    parts.push([n, v]);
    size += lengthSize(n.length) + lengthSize(v.length) + n.length + v.length;
  }
  const buf = Buffer.allocUnsafe(size);
  let offset = 0;
  for (const [n, v] of parts) {
    offset = writeLength(buf, offset, n.length);
    offset = writeLength(buf, offset, v.length);
    offset += n.copy(buf, offset);
    offset += v.copy(buf, offset);
  }
  return buf;
}

/** Buffer's own latin1 decoder, without toString()'s argument checks (this is the per-request hot path). */
const latin1 = (Buffer.prototype as unknown as { latin1Slice?: (start: number, end: number) => string }).latin1Slice;

function latin1Text(buf: Buffer, start: number, end: number): string {
  return latin1 !== undefined ? latin1.call(buf, start, end) : buf.toString('latin1', start, end);
}

/**
 * Param names and most values repeat from one request to the next (nginx
 * sends the same twenty names, and GET, HTTP/1.1, 127.0.0.1...). Making a
 * string costs ~100 ns; finding it in this small direct-mapped table costs a
 * few byte comparisons. A slot holds the last string that hashed there, and
 * its bytes beside it (comparing two byte arrays is faster than a string's
 * characters with bytes); the comparison decides, so a collision costs a
 * miss, never a wrong string.
 */
const INTERN_SLOTS = 4096;
const INTERN_MAX = 48;
const interned: string[] = new Array<string>(INTERN_SLOTS).fill('');
const internedLength = new Int32Array(INTERN_SLOTS);
const internedBytes = new Uint8Array(INTERN_SLOTS * INTERN_MAX);

function text(buf: Buffer, start: number, end: number): string {
  const n = end - start;
  if (n === 0) return '';
  if (n > INTERN_MAX) return latin1Text(buf, start, end);
  const slot = (n * 7919 + buf[start]! * 31 + buf[end - 1]! * 131 + buf[start + (n >> 1)]! * 524287 + buf[start + (n >> 2)]! * 8191) & (INTERN_SLOTS - 1);
  const base = slot * INTERN_MAX;
  if (internedLength[slot] === n) {
    let i = 0;
    while (i < n && internedBytes[base + i] === buf[start + i]) i++;
    if (i === n) return interned[slot]!;
  }
  const made = latin1Text(buf, start, end);
  interned[slot] = made;
  internedLength[slot] = n;
  internedBytes.set(buf.subarray(start, end), base);
  return made;
}

/**
 * The params of one request: an object with fast properties (V8 gives every
 * request from the same web server, which sends the same names in the same
 * order, one shared hidden class), yet without Object.prototype, so a param
 * named __proto__ or constructor is a param like any other. An
 * Object.create(null) object would be a slow hash table from the start.
 */
const Params = function Params(): void {} as unknown as new () => Record<string, string>;
Params.prototype = Object.create(null) as object;

export function newParams(): Record<string, string> {
  return new Params();
}

/**
 * Decodes name-value pairs into a params object. Names and values are read
 * as latin1, so every byte survives: the web server sends raw bytes (a UTF-8
 * URI stays as its bytes, to be decoded by whoever knows the encoding).
 */
export function decodeParams(buf: Buffer): Record<string, string> {
  const params = newParams();
  decodeParamsInto(buf, params);
  return params;
}

/** decodeParams() into `into`; returns the number of pairs decoded. */
export function decodeParamsInto(buf: Buffer, into: Record<string, string>): number {
  let pairs = 0;
  let offset = 0;
  const end = buf.length;
  while (offset < end) {
    let nameLength = buf[offset]!;
    if (nameLength > 127) {
      if (offset + 4 > end) throw new ProtocolError('truncated name length in name-value pair');
      nameLength = buf.readUInt32BE(offset) & 0x7fffffff;
      offset += 4;
    } else {
      offset += 1;
    }
    if (offset >= end) throw new ProtocolError('name-value pair without a value length');
    let valueLength = buf[offset]!;
    if (valueLength > 127) {
      if (offset + 4 > end) throw new ProtocolError('truncated value length in name-value pair');
      valueLength = buf.readUInt32BE(offset) & 0x7fffffff;
      offset += 4;
    } else {
      offset += 1;
    }
    if (offset + nameLength + valueLength > end) {
      throw new ProtocolError(
        `name-value pair of ${nameLength}+${valueLength} bytes overruns its ${end - offset} remaining bytes`,
      );
    }
    const name = text(buf, offset, offset + nameLength);
    offset += nameLength;
    const value = text(buf, offset, offset + valueLength);
    offset += valueLength;
    // A name sent twice keeps both values (two Cookie lines, or a config's override); a plain store in the usual case.
    if (into[name] === undefined) into[name] = value;
    else addParam(into, name, value);
    pairs++;
  }
  return pairs;
}
