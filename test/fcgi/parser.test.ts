import { describe, expect, it } from 'vitest';
import { ProtocolError, encodeRecord } from '../../src/fcgi/codec.js';
import { FCGI_PARAMS, FCGI_STDIN, FCGI_STDOUT } from '../../src/fcgi/constants.js';
import { RecordParser } from '../../src/fcgi/parser.js';

type Rec = [number, number, string];

function collect(chunks: Buffer[]): Rec[] {
  const out: Rec[] = [];
  const parser = new RecordParser((type, id, content) => out.push([type, id, content.toString('hex')]));
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

  it('gathers a 64 KiB record arriving in small pieces', () => {
    const big = encodeRecord(FCGI_STDIN, 3, Buffer.alloc(65535, 1));
    const pieces: Buffer[] = [];
    for (let o = 0; o < big.length; o += 1000) pieces.push(big.subarray(o, o + 1000));
    const out = collect(pieces);
    expect(out).toHaveLength(1);
    expect(out[0]![2]).toBe('01'.repeat(65535));
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
