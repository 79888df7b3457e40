// Building the records a web server sends, for tests.

import { encodeParams, encodeRecord } from '../../src/protocol/fcgi/codec.js';
import * as C from '../../src/protocol/fcgi/constants.js';

export function begin(id: number, role = C.FCGI_RESPONDER, keepConn = true): Buffer {
  const body = Buffer.alloc(8);
  body.writeUInt16BE(role, 0);
  body[2] = keepConn ? C.FCGI_KEEP_CONN : 0;
  return encodeRecord(C.FCGI_BEGIN_REQUEST, id, body);
}

/** Params as a web server sends them: a list may send a name twice (HAProxy's two HTTP_COOKIE). */
export type Pairs = Record<string, string> | (readonly [string, string])[];

/** PARAMS records for `pairs` and the empty one that ends the stream. */
export function params(id: number, pairs: Pairs): Buffer {
  const encoded = encodeParams(Array.isArray(pairs) ? pairs : Object.entries(pairs));
  const parts: Buffer[] = [];
  for (let o = 0; o < encoded.length; o += C.FCGI_MAX_CONTENT) {
    parts.push(encodeRecord(C.FCGI_PARAMS, id, encoded.subarray(o, o + C.FCGI_MAX_CONTENT)));
  }
  parts.push(encodeRecord(C.FCGI_PARAMS, id));
  return Buffer.concat(parts);
}

/** STDIN records for `body` (in pieces of at most 65535 bytes) and the empty one that ends it. */
export function stdin(id: number, body: Buffer | string = ''): Buffer {
  const data = typeof body === 'string' ? Buffer.from(body) : body;
  const parts: Buffer[] = [];
  for (let o = 0; o < data.length; o += C.FCGI_MAX_CONTENT) {
    parts.push(encodeRecord(C.FCGI_STDIN, id, data.subarray(o, o + C.FCGI_MAX_CONTENT)));
  }
  parts.push(encodeRecord(C.FCGI_STDIN, id));
  return Buffer.concat(parts);
}

/** A whole RESPONDER request: BEGIN_REQUEST, PARAMS, STDIN. */
export function request(id: number, pairs: Pairs, body: Buffer | string = '', keepConn = true): Buffer {
  return Buffer.concat([begin(id, C.FCGI_RESPONDER, keepConn), params(id, pairs), stdin(id, body)]);
}

/** Splits a CGI response into its head lines and body. */
export function parseCgi(response: Buffer): { status: number; headers: string[]; body: Buffer } {
  const end = response.indexOf('\r\n\r\n');
  const head = response.subarray(0, end).toString('latin1').split('\r\n');
  const statusLine = head.find((l) => /^status:/i.test(l));
  return {
    status: statusLine ? Number(/^status:\s*(\d+)/i.exec(statusLine)![1]) : 200,
    headers: head,
    body: response.subarray(end + 4),
  };
}

/** The content of the STDOUT records of request `id` in raw records as a web server receives them. */
export function stdoutOf(records: Buffer, id = 1): Buffer {
  const parts: Buffer[] = [];
  // A record: version, type, request id (2), content length (2), padding length, reserved; then content and padding.
  for (let o = 0; o + 8 <= records.length; ) {
    const length = records.readUInt16BE(o + 4);
    if (records[o + 1] === C.FCGI_STDOUT && records.readUInt16BE(o + 2) === id) parts.push(records.subarray(o + 8, o + 8 + length));
    o += 8 + length + records[o + 6]!;
  }
  return Buffer.concat(parts);
}
