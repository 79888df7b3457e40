// Property-based tests (fast-check): round trips, any split, any garbage.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtocolError, decodeParams, encodeParams, encodeRecord } from '../../../../src/protocol/fcgi/codec.js';
import { FcgiConnection } from '../../../../src/protocol/fcgi/connection.js';
import * as C from '../../../../src/protocol/fcgi/constants.js';
import { RecordParser } from '../../../../src/protocol/fcgi/parser.js';
import { MemorySocket, settle } from '../../../helpers/memory-socket.js';

const latin1 = fc.string({ unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)), maxLength: 300 });
const record = fc.record({
  type: fc.oneof(fc.constantFrom(4, 5, 8), fc.integer({ min: 1, max: 255 })),
  id: fc.integer({ min: 0, max: 65535 }),
  content: fc.uint8Array({ maxLength: 2000 }),
  pad: fc.boolean(),
});

/** Cuts `bytes` at the given offsets. */
function split(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let last = 0;
  for (const p of points) {
    out.push(bytes.subarray(last, p));
    last = p;
  }
  out.push(bytes.subarray(last));
  return out;
}

describe('codec and parser properties', () => {
  it('name-value pairs round-trip, whatever the bytes and lengths', () => {
    fc.assert(fc.property(fc.uniqueArray(fc.tuple(latin1, latin1), { selector: ([k]) => k, maxLength: 40 }), (pairs) => {
      const decoded = decodeParams(encodeParams(pairs));
      expect({ ...decoded }).toEqual(Object.fromEntries(pairs));
    }), { numRuns: 500 });
  });

  it('a stream of records parses to the same records, however it is split', () => {
    fc.assert(fc.property(fc.array(record, { maxLength: 20 }), fc.array(fc.nat(), { maxLength: 30 }), (records, cuts) => {
      const stream = Buffer.concat(records.map((r) => encodeRecord(r.type, r.id, r.content, r.pad)));
      const calls: [number, number, Buffer][] = [];
      const parser = new RecordParser((type, id, content) => calls.push([type, id, Buffer.from(content)]));
      for (const chunk of split(stream, cuts)) parser.push(chunk);
      expect(parser.pendingBytes).toBe(0);
      // A stream record (PARAMS, STDIN, DATA of a request) may come in parts: none empty, in order.
      const seen: [number, number, string][] = [];
      for (const r of records) {
        const parts = [calls.shift()!];
        const inParts = [C.FCGI_PARAMS, C.FCGI_STDIN, C.FCGI_DATA].includes(r.type) && r.id !== 0;
        while (inParts && Buffer.concat(parts.map((p) => p[2])).length < r.content.length) {
          const next = calls.shift()!;
          expect(next[2].length).toBeGreaterThan(0);
          parts.push(next);
        }
        for (const p of parts) expect([p[0], p[1]]).toEqual([parts[0]![0], parts[0]![1]]);
        seen.push([parts[0]![0], parts[0]![1], Buffer.concat(parts.map((p) => p[2])).toString('hex')]);
      }
      expect(calls).toEqual([]);
      expect(seen).toEqual(records.map((r) => [r.type, r.id, Buffer.from(r.content).toString('hex')]));
    }), { numRuns: 500 });
  });

  it('garbage makes the parser throw ProtocolError or wait for more, never anything else', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 5000 }), fc.array(fc.nat(), { maxLength: 10 }), (bytes, cuts) => {
      const parser = new RecordParser(() => {});
      try {
        for (const chunk of split(Buffer.from(bytes), cuts)) parser.push(chunk);
      } catch (error) {
        expect(error).toBeInstanceOf(ProtocolError);
      }
    }));
  });

  it('FCGI_GET_VALUES with any names, Object.prototype\'s among them, is answered with only the known ones', async () => {
    const name = fc.oneof(latin1, fc.constantFrom('toString', 'constructor', '__proto__', 'hasOwnProperty', 'valueOf', C.FCGI_MAX_CONNS, C.FCGI_MAX_REQS, C.FCGI_MPXS_CONNS));
    await fc.assert(fc.asyncProperty(fc.uniqueArray(name, { maxLength: 12 }), async (names) => {
      const socket = new MemorySocket();
      new FcgiConnection(socket);
      socket.emit('data', encodeRecord(C.FCGI_GET_VALUES, 0, encodeParams(names.map((n) => [n, '']))));
      await settle();
      const [result] = socket.records();
      expect(result!.type).toBe(C.FCGI_GET_VALUES_RESULT);
      const known = [C.FCGI_MAX_CONNS, C.FCGI_MAX_REQS, C.FCGI_MPXS_CONNS];
      expect(Object.keys(decodeParams(result!.content)).sort()).toEqual(names.filter((n) => known.includes(n)).sort());
    }), { numRuns: 300 });
  });

  it('garbage on a connection ends at worst in a closed connection, never in an exception', () => {
    fc.assert(fc.property(fc.array(fc.oneof(record.map((r) => encodeRecord(r.type, r.id, r.content, r.pad)), fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b))), { maxLength: 30 }), (parts) => {
      const socket = new MemorySocket();
      const connection = new FcgiConnection(socket, { maxParamsBytes: 4096 });
      connection.on('request', (req) => {
        req.attach({ stdin: () => {}, abort: () => {}, drain: () => {} });
        req.write('Status: 200 OK\r\n\r\nok');
        req.end(0);
      });
      connection.on('protocolError', () => {});
      for (const p of parts) socket.emit('data', p);
    }));
  });
});
