// The record writer: whatever is streamed, in whatever sizes and encodings, comes out as the same bytes in order.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as C from '../../../../src/protocol/fcgi/constants.js';
import { RecordWriter } from '../../../../src/protocol/fcgi/writer.js';
import { MemorySocket } from '../../../helpers/memory-socket.js';

type Op =
  | { kind: 'text'; id: number; text: string; encoding: 'utf8' | 'latin1' | 'hex' }
  | { kind: 'bytes'; id: number; size: number }
  | { kind: 'end'; id: number }
  | { kind: 'flush' };

const id = fc.integer({ min: 1, max: 3 });
const op: fc.Arbitrary<Op> = fc.oneof(
  // Short and long text, with characters of one to four UTF-8 bytes.
  fc.record({ kind: fc.constant('text' as const), id, text: fc.oneof(fc.string({ unit: 'binary', maxLength: 50 }), fc.string({ unit: 'binary', minLength: 20_000, maxLength: 70_000 })), encoding: fc.constantFrom('utf8' as const, 'latin1' as const) }),
  fc.record({ kind: fc.constant('text' as const), id, text: fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), maxLength: 40 }).map((t) => t.slice(0, t.length & ~1)), encoding: fc.constant('hex' as const) }),
  // Buffers below, around and above the copy limit and the record limit.
  fc.record({ kind: fc.constant('bytes' as const), id, size: fc.oneof(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 16_000, max: 17_000 }), fc.integer({ min: 60_000, max: 140_000 })) }),
  fc.record({ kind: fc.constant('end' as const), id }),
  fc.constant({ kind: 'flush' as const }),
);

function bytesOf(size: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + seed) & 255;
  return b;
}

describe('RecordWriter', () => {
  it('writes every stream byte-exact and in order, in records of at most 65535 bytes', () => {
    fc.assert(fc.property(fc.array(op, { maxLength: 25 }), (ops) => {
      const socket = new MemorySocket();
      const writer = new RecordWriter(socket);
      const expected = new Map<number, Buffer[]>();
      const ends: number[] = [];
      ops.forEach((o, n) => {
        if (o.kind === 'flush') return writer.flush();
        if (o.kind === 'end') {
          ends.push(o.id);
          return writer.endRequest(o.id, 7);
        }
        const data = o.kind === 'text' ? Buffer.from(o.text, o.encoding) : bytesOf(o.size, n);
        const returned = o.kind === 'text' ? writer.stream(C.FCGI_STDOUT, o.id, o.text, o.encoding) : writer.stream(C.FCGI_STDOUT, o.id, data, undefined);
        expect(returned).toBe(data.length);
        if (!expected.has(o.id)) expected.set(o.id, []);
        expected.get(o.id)!.push(data);
      });
      writer.flush();
      const records = socket.records();
      for (const r of records) expect(r.content.length).toBeLessThanOrEqual(C.FCGI_MAX_CONTENT);
      for (const [rid, parts] of expected) {
        expect(socket.stdout(rid).equals(Buffer.concat(parts))).toBe(true);
      }
      expect(records.filter((r) => r.type === C.FCGI_END_REQUEST).map((r) => r.requestId)).toEqual(ends);
    }), { numRuns: 200 });
  });

  it('writes a tick of small records in one write', () => {
    const socket = new MemorySocket();
    const writer = new RecordWriter(socket);
    writer.stream(C.FCGI_STDOUT, 1, 'Status: 200 OK\r\n\r\nhello', 'utf8');
    writer.endRequest(1, 0);
    writer.flush();
    expect(socket.written).toHaveLength(1);
    expect(socket.records().map((r) => r.type)).toEqual([C.FCGI_STDOUT, C.FCGI_STDOUT, C.FCGI_END_REQUEST]);
  });

  it('writes what came while held at release, and schedules a flush for what comes after', async () => {
    const socket = new MemorySocket();
    const writer = new RecordWriter(socket);
    writer.hold();
    writer.stream(C.FCGI_STDOUT, 1, 'Status: 200 OK\r\n\r\nfirst', 'utf8');
    writer.endRequest(1, 0);
    expect(socket.written).toHaveLength(0);
    writer.release();
    expect(socket.written).toHaveLength(1);
    // An answer that comes later (an async app) leaves at the end of its tick.
    writer.stream(C.FCGI_STDOUT, 2, 'Status: 200 OK\r\n\r\nlater', 'utf8');
    writer.endRequest(2, 0);
    expect(socket.written).toHaveLength(1);
    await new Promise(process.nextTick);
    expect(socket.written).toHaveLength(2);
    expect(socket.stdout(1).toString()).toBe('Status: 200 OK\r\n\r\nfirst');
    expect(socket.stdout(2).toString()).toBe('Status: 200 OK\r\n\r\nlater');
    // Nothing queued: a release writes nothing.
    writer.hold();
    writer.release();
    expect(socket.written).toHaveLength(2);
  });
});
