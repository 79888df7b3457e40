// The fetch adapter's Request against a real Request made from the same input: every property and
// method gives the same, for random methods, URLs, headers and bodies (fast-check).

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fetchHandler } from '../../../src/adapter/fetch.js';
import { exchange, silentLog } from '../../helpers/adapter.js';

/** The properties a Request has, read as they are (signal and body by what they say). */
const PROPERTIES = ['method', 'url', 'destination', 'referrer', 'referrerPolicy', 'mode', 'credentials', 'cache', 'redirect', 'integrity', 'keepalive', 'isReloadNavigation', 'isHistoryNavigation', 'duplex', 'bodyUsed'] as const;
const READS = ['text', 'json', 'arrayBuffer', 'bytes', 'blob', 'formData', 'clone', 'new Request', 'body'] as const;
type Read = (typeof READS)[number];

const hex = (bytes: ArrayBuffer | Uint8Array): string => Buffer.from(bytes as ArrayBuffer).toString('hex');

/** What a Request says of itself, in plain data: its properties, then one way of reading its body. */
async function describeRequest(request: Request, read: Read): Promise<unknown> {
  const out: Record<string, unknown> = { instance: request instanceof Request, tag: Object.prototype.toString.call(request) };
  for (const key of PROPERTIES) out[key] = (request as unknown as Record<string, unknown>)[key];
  out.headers = [...request.headers];
  out.cookies = request.headers.getSetCookie();
  out.signal = [request.signal instanceof AbortSignal, request.signal.aborted];
  out.hasBody = request.body !== null;
  try {
    out.read = await readBody(request, read);
  } catch (error) {
    out.read = `throws ${(error as Error).name}`;
  }
  out.usedAfter = request.bodyUsed;
  out.again = await request.text().then(
    (t) => `text ${t.length}`,
    (e: Error) => `throws ${e.name}`,
  );
  return out;
}

async function readBody(request: Request, read: Read): Promise<unknown> {
  switch (read) {
    case 'text':
      return await request.text();
    case 'json':
      return JSON.stringify(await request.json());
    case 'arrayBuffer':
      return hex(await request.arrayBuffer());
    case 'bytes':
      return hex(await request.bytes());
    case 'blob': {
      const blob = await request.blob();
      return [blob.type, hex(await blob.arrayBuffer())];
    }
    case 'formData': {
      const entries: unknown[] = [];
      for (const [name, value] of await request.formData()) entries.push([name, typeof value === 'string' ? value : [value.name, value.type, value.size]]);
      return entries;
    }
    case 'clone': {
      const copy = request.clone();
      return [copy instanceof Request, copy.url, copy.method, [...copy.headers], await copy.text(), await request.text()];
    }
    case 'new Request': {
      const copy = new Request(request);
      return [copy.url, copy.method, [...copy.headers], await copy.text(), request.bodyUsed];
    }
    case 'body': {
      const chunks: Uint8Array[] = [];
      const body = request.body;
      if (body === null) return null;
      for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) chunks.push(chunk);
      return hex(Buffer.concat(chunks));
    }
  }
}

/** The headers a proxy consumes (RFC 9110 7.6.1); runfcgi drops them as Node's server behind nginx shows them dropped. */
const HOP_BY_HOP = ['connection', 'keep-alive', 'te', 'upgrade', 'expect', 'transfer-encoding'];
const tokenChar = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-'.split(''));
const headerName = fc.oneof(
  fc.constantFrom('accept', 'user-agent', 'x-custom', 'cookie', 'accept-language', 'x-forwarded-for', 'authorization'),
  // Hop-by-hop names are left out on purpose (docs/requests.md): the app never sees them, as behind proxy_pass.
  fc.string({ unit: tokenChar, minLength: 1, maxLength: 12 }).filter((n) => !n.startsWith('-') && !['content-length', 'content-type', 'host', ...HOP_BY_HOP].includes(n)),
);
/** Header values as a web server passes them: latin1, trimmed, no control characters. */
const headerValue = fc
  .string({ unit: fc.oneof(fc.integer({ min: 0x20, max: 0xff }).map((c) => String.fromCharCode(c)), fc.constantFrom('\t', ' ', ',', ';')), maxLength: 20 })
  .map((v) => v.replace(/^[\t ]+|[\t ]+$/g, ''));
const urlChar = fc.oneof(
  fc.constantFrom(...'abcXYZ019-._~!$&\'()*+,;=:@/%?#[]{}|\\^`"<> é'.split('')),
  fc.constantFrom('%2e', '%2E', '/..', '/./', '%41', '%zz', '//'),
);
const method = fc.constantFrom('GET', 'get', 'HEAD', 'POST', 'post', 'PUT', 'put', 'DELETE', 'OPTIONS', 'PATCH', 'patch', 'PROPFIND', 'TRACE', 'connect', 'BAD METHOD');
const host = fc.constantFrom('example.com', 'Example.COM', '127.0.0.1:8080', 'localhost:80', 'a-b.example:443', '[::1]:8080', '01.2.3.4', 'xn--nxasmq6b.com', 'ex ample.com', 'a.1', 'host:99999', '');
const contentType = fc.constantFrom(undefined, 'text/plain', 'application/json', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=XyZ', 'TEXT/Plain; Charset=UTF-8', 'application/octet-stream');
const body = fc.oneof(
  fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
  fc.string({ maxLength: 40 }).map((s) => Buffer.from(s)),
  fc.constantFrom('{"a":1}', '\uFEFF{"b":[1,2]}', 'a=1&b=%C3%A9', '--XyZ\r\nContent-Disposition: form-data; name="f"\r\n\r\nv\r\n--XyZ--\r\n').map((s) => Buffer.from(s)),
);

const input = fc.record({
  method,
  host,
  https: fc.boolean(),
  path: fc.array(urlChar, { maxLength: 12 }).map((p) => `/${p.join('')}`),
  headers: fc.uniqueArray(fc.tuple(headerName, headerValue), { maxLength: 5, selector: ([name]) => name }),
  contentType,
  body,
  read: fc.constantFrom(...READS),
});
type Input = typeof input extends fc.Arbitrary<infer T> ? T : never;

function paramsOf(i: Input): Record<string, string> {
  const params: Record<string, string> = { REQUEST_METHOD: i.method, REQUEST_URI: i.path, SERVER_NAME: 'fallback.example', SERVER_PORT: i.https ? '443' : '80' };
  if (i.host !== '') params.HTTP_HOST = i.host;
  if (i.https) params.HTTPS = 'on';
  for (const [name, value] of i.headers) params[`HTTP_${name.toUpperCase().replace(/-/g, '_')}`] = value;
  if (!noBody(i)) {
    params.CONTENT_LENGTH = String(i.body.length);
    if (i.contentType !== undefined) params.CONTENT_TYPE = i.contentType;
  }
  return params;
}

const noBody = (i: Input): boolean => ['GET', 'HEAD'].includes(i.method.toUpperCase());

/** The real Request a Node HTTP server's fetch adapter would make of the same request. */
function reference(i: Input): Request {
  const origin = `${i.https ? 'https' : 'http'}://${i.host === '' ? 'fallback.example' : i.host}`;
  const headers: [string, string][] = [...i.headers];
  if (i.host !== '') headers.push(['host', i.host]);
  if (!noBody(i)) {
    if (i.contentType !== undefined) headers.push(['content-type', i.contentType]);
    // CONTENT_LENGTH=0 on a method Node's client sends without a body is the web server's (Caddy, HAProxy): not shown.
    if (i.body.length > 0 || !['DELETE', 'OPTIONS', 'TRACE', 'CONNECT'].includes(i.method)) headers.push(['content-length', String(i.body.length)]);
  }
  return new Request(origin + i.path, { method: i.method, headers, body: noBody(i) ? null : i.body });
}

describe('the Request a fetch handler gets', () => {
  it('gives what a real Request from the same input gives, property by property and read by read', async () => {
    await fc.assert(
      fc.asyncProperty(input, async (i) => {
        let expected: unknown;
        try {
          expected = await describeRequest(reference(i), i.read);
        } catch {
          expected = undefined; // no Request can be made of it: the app is never called
        }
        let seen: unknown;
        const handler = fetchHandler({
          async fetch(request) {
            seen = await describeRequest(request, i.read);
            return new Response('ok');
          },
        }, { debug: true, log: silentLog });
        const ex = await exchange(handler, paramsOf(i), noBody(i) ? '' : i.body);
        if (expected === undefined) {
          expect(seen).toBeUndefined();
          expect([400, 501]).toContain(ex.status);
        } else {
          expect(ex.status).toBe(200);
          expect(ex.body.toString()).toBe(i.method.toUpperCase() === 'HEAD' ? '' : 'ok');
          expect(seen).toEqual(expected);
        }
      }),
      { numRuns: 300 },
    );
  });
});
