import { describe, expect, it } from 'vitest';
import { ProtocolError, encodeRecord } from '../../../../src/protocol/fcgi/codec.js';
import { FCGI_BEGIN_REQUEST, FCGI_PARAMS, FCGI_STDIN, FCGI_STDOUT } from '../../../../src/protocol/fcgi/constants.js';
import { RecordParser } from '../../../../src/protocol/fcgi/parser.js';

type Rec = [number, number, string];

/** The records, with the parts of a stream record cut by a chunk boundary joined again. */
function collect(chunks: Buffer[]): Rec[] {
  const out: Rec[] = [];
  let joinable = false;
  const parser = new RecordParser((type, id, content) => {
    const last = out.at(-1);
    // Parts are never empty; an empty record is a record of its own.
    if (joinable && content.length > 0 && last !== undefined && last[0] === type && last[1] === id) last[2] += content.toString('hex');
    else out.push([type, id, content.toString('hex')]);
    joinable = content.length > 0;
  });
  for (const c of chunks) parser.push(c);
  expect(parser.pendingBytes).toBe(0);
  return out;
}

const stream = Buffer.concat([
  encodeRecord(FCGI_PARAMS, 1, Buffer.from('abc'), true),
  encodeRecord(FCGI_PARAMS, 1),
  encodeRecord(FCGI_STDIN, 2, Buffer.alloc(300, 7)),
  encodeRecord(FCGI_STDOUT, 65535, Buffer.from('x'), true),
]);
const expected: Rec[] = [
  [FCGI_PARAMS, 1, '616263'],
  [FCGI_PARAMS, 1, ''],
  [FCGI_STDIN, 2, '07'.repeat(300)],
  [FCGI_STDOUT, 65535, '78'],
];

describe('record parser', () => {
  it('finds every record, skipping padding', () => {
    expect(collect([stream])).toEqual(expected);
  });

  it('gives the same records for the stream split at every offset', () => {
    for (let i = 0; i <= stream.length; i++) {
      expect(collect([stream.subarray(0, i), stream.subarray(i)])).toEqual(expected);
    }
  });

  it('gives the same records fed one byte at a time', () => {
    const bytes = Array.from(stream, (b) => Buffer.from([b]));
    expect(collect(bytes)).toEqual(expected);
  });

  it('hands on a 64 KiB STDIN record arriving in small pieces as views of those pieces, in order', () => {
    const big = encodeRecord(FCGI_STDIN, 3, Buffer.alloc(65535, 1), true);
    const pieces: Buffer[] = [];
    for (let o = 0; o < big.length; o += 1000) pieces.push(Buffer.from(big.subarray(o, o + 1000)));
    const parts: Buffer[] = [];
    const parser = new RecordParser((type, id, content) => {
      expect([type, id]).toEqual([FCGI_STDIN, 3]);
      parts.push(content);
    });
    for (const p of pieces) parser.push(p);
    expect(parser.pendingBytes).toBe(0);
    expect(Buffer.concat(parts).equals(Buffer.alloc(65535, 1))).toBe(true);
    expect(parts.every((part, i) => part.length > 0 && part.buffer === pieces[i]!.buffer)).toBe(true);
  });

  it('gathers a BEGIN_REQUEST cut across chunks into one record', () => {
    const begin = encodeRecord(FCGI_BEGIN_REQUEST, 4, Buffer.from([0, 1, 1, 0, 0, 0, 0, 0]));
    const out: Buffer[] = [];
    const parser = new RecordParser((_type, _id, content) => out.push(Buffer.from(content)));
    for (const b of begin) parser.push(Buffer.from([b]));
    expect(out).toEqual([Buffer.from([0, 1, 1, 0, 0, 0, 0, 0])]);
  });

  it('counts the bytes received of a stream record still arriving', () => {
    const parser = new RecordParser(() => {});
    parser.push(encodeRecord(FCGI_STDIN, 1, Buffer.alloc(100)).subarray(0, 50));
    expect(parser.pendingBytes).toBe(50);
  });

  it('counts the bytes of a record cut short', () => {
    const parser = new RecordParser(() => {});
    parser.push(stream.subarray(0, 13));
    expect(parser.pendingBytes).toBeGreaterThan(0);
  });

  it.each([0, 2, 255])('rejects version %i', (version) => {
    const bad = encodeRecord(FCGI_STDIN, 1, Buffer.from('x'));
    bad[0] = version;
    expect(() => new RecordParser(() => {}).push(bad)).toThrow(ProtocolError);
  });

  it('rejects a bad version met in the middle of a stream', () => {
    const bad = Buffer.concat([encodeRecord(FCGI_STDIN, 1), Buffer.from('GET / HTTP/1.1\r\n\r\n')]);
    const seen: number[] = [];
    expect(() => new RecordParser((t) => seen.push(t)).push(bad)).toThrow(/unsupported version 71/);
    expect(seen).toEqual([FCGI_STDIN]);
  });
});
