// FastResponse against a real Response made from the same body and init: the fetch adapter writes
// the same reply for both (fast-check: bodies, statuses, reasons, headers as records, pairs or Headers).

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FastResponse } from '../../../src/adapter/fast-response.js';
import { fetchHandler } from '../../../src/adapter/fetch.js';
import { READS_NATIVE_BODIES } from '../../../src/adapter/fetch-response.js';
import { exchange, silentLog, type Exchange } from '../../helpers/adapter.js';

const NativeResponse = globalThis.Response;

/** A reply as a client reads it: status, each header's values joined (Set-Cookie apart), body. */
function reading(ex: Exchange): unknown {
  const headers: Record<string, string[]> = {};
  for (const line of ex.headers) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).toLowerCase();
    // Where a native Response's body is private (Node 24+), it streams without a length; ours has one.
    if (name === 'status' || (name === 'content-length' && !READS_NATIVE_BODIES)) continue;
    (headers[name] ??= []).push(line.slice(colon + 1).trim());
  }
  // Repeated lines and one comma-joined line say the same; empty list elements are ignored (RFC 9110 5.6.1).
  const list = (values: string[]): string => values.join(',').split(',').map((v) => v.trim()).filter((v) => v !== '').join(', ');
  const joined = Object.fromEntries(Object.entries(headers).map(([n, v]) => [n, n === 'set-cookie' ? v : list(v)]));
  // No Status line means 200 OK (CGI/1.1 6.3.3); runfcgi leaves it out when another header follows, and a
  // length (ours, not a Node 24+ native Response's) is such a header: compare what the web server reads.
  const statusLine = ex.headers.find((l) => /^status:/i.test(l)) ?? 'Status: 200 OK';
  return { status: ex.status, statusLine, headers: joined, body: ex.body.toString('hex') };
}

const name = fc.oneof(fc.constantFrom('X-A', 'x-a', 'Content-Type', 'set-cookie', 'Cache-Control', 'content-length'), fc.string({ unit: fc.constantFrom(...'abcxyz-'.split('')), minLength: 1, maxLength: 6 }));
const value = fc.string({ unit: fc.oneof(fc.constantFrom('a', 'b', ' ', '\t', ',', ';', '=', 'é'), fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c))), maxLength: 10 });
const pairs = fc.array(fc.tuple(name, value), { maxLength: 4 });
const body = fc.oneof(
  fc.constant(null),
  fc.string({ maxLength: 30 }),
  fc.uint8Array({ maxLength: 30 }),
  fc.string({ maxLength: 20 }).map((s) => new URLSearchParams(s)),
  fc.string({ maxLength: 20 }).map((s) => new Blob([s], { type: 'text/x-test' })),
);
const init = fc.record({
  status: fc.constantFrom(200, 201, 204, 404, 500, 599),
  statusText: fc.constantFrom(undefined, '', 'Fine', 'Not Quite'),
  shape: fc.constantFrom('record', 'pairs', 'Headers', 'none'),
  pairs,
});

function headersOf(shape: string, list: [string, string][]): HeadersInit | undefined {
  // A content-length of the app's own must be the body's: any other is the app's lie to the client.
  const fitting = list.filter(([n]) => n.toLowerCase() !== 'content-length');
  if (shape === 'none') return undefined;
  if (shape === 'pairs') return fitting;
  if (shape === 'Headers') return new Headers(fitting);
  return Object.fromEntries(fitting);
}

describe('FastResponse', () => {
  it('is written as the real Response made of the same body and init would be', async () => {
    await fc.assert(
      fc.asyncProperty(body, init, fc.boolean(), async (b, i, head) => {
        const status = b !== null && i.status === 204 ? 200 : i.status;
        const make = (R: typeof NativeResponse) => (): Response => {
          const headers = headersOf(i.shape, i.pairs);
          return new R(b, { status, statusText: i.statusText, headers });
        };
        const params = { REQUEST_METHOD: head ? 'HEAD' : 'GET' };
        const opts = { debug: true, log: silentLog };
        let nativeOk = true;
        try {
          make(NativeResponse)();
        } catch {
          nativeOk = false;
        }
        const native = await exchange(fetchHandler({ fetch: make(NativeResponse) }, opts), params);
        const fast = await exchange(fetchHandler({ fetch: make(FastResponse as unknown as typeof NativeResponse) }, opts), params);
        if (!nativeOk) {
          // What a Response refuses is refused either way: a 500, nothing of the app's sent.
          expect([native.status, fast.status]).toEqual([500, 500]);
        } else {
          expect(reading(fast)).toEqual(reading(native));
        }
      }),
      { numRuns: 300 },
    );
  });
});
