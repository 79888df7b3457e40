import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { FastResponse } from '../../../src/adapter/fast-response.js';
import { fetchHandler, type FetchApp } from '../../../src/adapter/fetch.js';
import { READS_NATIVE_BODIES } from '../../../src/adapter/fetch-response.js';
import { encodeRecord } from '../../../src/protocol/fcgi/codec.js';
import { FcgiConnection } from '../../../src/protocol/fcgi/connection.js';
import * as C from '../../../src/protocol/fcgi/constants.js';
import { exchange, header, silentLog } from '../../helpers/adapter.js';
import { begin, params as paramRecords, parseCgi, request as requestRecords, stdin } from '../../helpers/fcgi-records.js';
import { waitFor } from '../../helpers/load.js';
import { MemorySocket, settle } from '../../helpers/memory-socket.js';

const opts = { debug: false, log: silentLog };

describe('fetch(Request) adapter', () => {
  it('gives the handler an absolute URL, method, headers and the CGI env', async () => {
    let seen: Record<string, unknown> = {};
    const ex = await exchange(fetchHandler({
      fetch(request, env) {
        seen = { url: request.url, method: request.method, ua: request.headers.get('user-agent'), role: env.FCGI_ROLE, script: env.SCRIPT_NAME };
        return new Response('hi', { status: 202, headers: { 'x-a': '1' } });
      },
    }, opts), { REQUEST_URI: '/p?q=1', HTTP_HOST: 'example.com', HTTP_USER_AGENT: 'test', SCRIPT_NAME: '/p', HTTPS: 'on' });
    expect(seen).toEqual({ url: 'https://example.com/p?q=1', method: 'GET', ua: 'test', role: 'RESPONDER', script: '/p' });
    expect(ex.headers[0]).toBe('Status: 202 Accepted');
    expect(header(ex, 'x-a')).toEqual(['1']);
    expect(ex.body.toString()).toBe('hi');
  });

  it('streams a request body in and a streamed response out', async () => {
    const body = Buffer.alloc(200_000, 'z');
    const ex = await exchange(fetchHandler({
      async fetch(request) {
        const text = await request.text();
        const stream = new ReadableStream({
          start(c) {
            c.enqueue(new TextEncoder().encode(`got ${text.length}\n`));
            c.enqueue(new TextEncoder().encode('done'));
            c.close();
          },
        });
        return new Response(stream);
      },
    }, opts), { REQUEST_METHOD: 'POST', CONTENT_LENGTH: String(body.length) }, body);
    expect(ex.body.toString()).toBe('got 200000\ndone');
  });

  it('keeps every Set-Cookie and sends no body for HEAD', async () => {
    const ex = await exchange(fetchHandler({
      fetch() {
        const headers = new Headers();
        headers.append('set-cookie', 'a=1');
        headers.append('set-cookie', 'b=2');
        return new Response('body', { headers });
      },
    }, opts), { REQUEST_METHOD: 'HEAD' });
    expect(header(ex, 'set-cookie')).toEqual(['a=1', 'b=2']);
    expect(ex.body.length).toBe(0);
  });

  it('answers 500 when the handler rejects or returns no Response', async () => {
    const rejected = await exchange(fetchHandler({ fetch: () => Promise.reject(new Error('no')) }, opts), {});
    expect(rejected.status).toBe(500);
    const wrong = await exchange(fetchHandler({ fetch: () => 'text' as unknown as Response }, { ...opts, debug: true }), {});
    expect(wrong.status).toBe(500);
    expect(wrong.body.toString()).toMatch(/not a Response/);
  });

  it('gives 400 for a Host no URL can have and 501 for a method no Request can have, without calling the app', async () => {
    let called = false;
    const app = fetchHandler({ fetch: () => ((called = true), new Response('no')) }, opts);
    expect((await exchange(app, { HTTP_HOST: 'bad host' })).status).toBe(400);
    expect((await exchange(app, { REQUEST_METHOD: 'TRACE' })).status).toBe(501);
    expect(called).toBe(false);
  });

  it('answers 500 for a handler that throws, and serves the next request on the same connection', async () => {
    const socket = new MemorySocket();
    const connection = new FcgiConnection(socket);
    connection.on('request', fetchHandler({
      fetch(request) {
        if (new URL(request.url).pathname === '/throw') throw new Error('sync');
        return new Response('fine');
      },
    }, opts));
    socket.push(Buffer.concat([requestRecords(1, { REQUEST_URI: '/throw' }), requestRecords(2, { REQUEST_URI: '/ok' })]));
    await waitFor(() => socket.records().filter((r) => r.type === C.FCGI_END_REQUEST).length === 2, 10_000);
    expect(parseCgi(socket.stdout(1)).status).toBe(500);
    expect(parseCgi(socket.stdout(2)).body.toString()).toBe('fine');
  });
});

describe('the fetch adapter, request side', () => {
  it("aborts the request's signal when the web server aborts, read before or after, with or without a body", async () => {
    for (const [readFirst, method] of [[true, 'POST'], [false, 'POST'], [true, 'GET'], [false, 'GET']] as const) {
      const socket = new MemorySocket();
      const connection = new FcgiConnection(socket);
      let signal: AbortSignal | undefined;
      let reason: unknown;
      let request: Request | undefined;
      connection.on('request', fetchHandler({
        fetch(r) {
          request = r;
          if (readFirst) {
            signal = r.signal;
            signal.addEventListener('abort', () => (reason = signal!.reason));
          }
          return new Promise<Response>(() => {}); // never answers: the web server gives up
        },
      }, opts));
      // The body is still arriving when the abort comes.
      const input = method === 'POST' ? encodeRecord(C.FCGI_STDIN, 1, Buffer.from('abc')) : stdin(1);
      socket.push(Buffer.concat([begin(1), paramRecords(1, { REQUEST_METHOD: method, CONTENT_LENGTH: method === 'POST' ? '10' : '' }), input]));
      await waitFor(() => request !== undefined, 10_000);
      expect(request!.signal.aborted).toBe(false);
      socket.push(encodeRecord(C.FCGI_ABORT_REQUEST, 1));
      await waitFor(() => request!.signal.aborted, 10_000);
      if (readFirst) expect(String(reason)).toMatch(/aborted by web server/);
      expect(String(request!.signal.reason)).toMatch(/aborted by web server/);
      if (method === 'POST') await expect(request!.text()).rejects.toThrow(/aborted by web server/);
    }
  });

  it('pauses the connection while a body stream is not read, and reads it all once it is', async () => {
    const body = Buffer.alloc(1_000_000, 'q');
    const socket = new MemorySocket();
    const connection = new FcgiConnection(socket);
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    connection.on('request', fetchHandler({
      async fetch(request) {
        const stream = request.body!;
        await released;
        let length = 0;
        for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) length += chunk.length;
        return new Response(`read ${length}`);
      },
    }, opts));
    socket.push(Buffer.concat([begin(1), paramRecords(1, { REQUEST_METHOD: 'POST', CONTENT_LENGTH: String(body.length) })]));
    // STDIN record by record, as a socket delivers it: each push is read only while the connection reads.
    const records = stdin(1, body);
    socket.push(records);
    await waitFor(() => socket.isPaused(), 10_000);
    release();
    await waitFor(() => socket.records().some((r) => r.type === C.FCGI_END_REQUEST), 10_000);
    expect(parseCgi(socket.stdout(1)).body.toString()).toBe(`read ${body.length}`);
  });
});

describe('the fetch adapter, passing the request on', () => {
  it('lets fetch(request) forward the request, body and all, to another server', async () => {
    const upstream = http.createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8').on('data', (d: string) => (body += d));
      req.on('end', () => res.end(`${req.method} ${req.url} ${req.headers['x-a']} ${body}`));
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = upstream.address() as AddressInfo;
      const ex = await exchange(fetchHandler({
        fetch: (request) => fetch(request),
      }, opts), { REQUEST_METHOD: 'PUT', REQUEST_URI: '/up?x=1', HTTP_HOST: `127.0.0.1:${port}`, HTTP_X_A: 'a', CONTENT_LENGTH: '4' }, 'data');
      expect(ex.body.toString()).toBe('PUT /up?x=1 a data');
    } finally {
      upstream.close();
    }
  });
});

describe('the fetch adapter, response side', () => {
  const bodies: [string, () => Response, string, string | null][] = [
    ['bytes', () => new Response(new Uint8Array([104, 105])), 'hi', null],
    ['a Blob', () => new Response(new Blob(['blob'], { type: 'text/x-blob' })), 'blob', 'text/x-blob'],
    ['URLSearchParams', () => new Response(new URLSearchParams({ a: '1', b: 'é' })), 'a=1&b=%C3%A9', 'application/x-www-form-urlencoded;charset=UTF-8'],
    ['Response.json()', () => Response.json({ ok: true }), '{"ok":true}', 'application/json'],
    ['a UTF-8 string', () => new Response('héllo ✓'), 'héllo ✓', 'text/plain;charset=UTF-8'],
    ['a stream', () => new Response(new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode('str')); c.enqueue(new TextEncoder().encode('eam')); c.close(); } })), 'stream', null],
    ['FastResponse text', () => new FastResponse('fast ✓') as unknown as Response, 'fast ✓', 'text/plain;charset=UTF-8'],
    ['FastResponse.json()', () => FastResponse.json({ fast: 1 }) as unknown as Response, '{"fast":1}', 'application/json'],
    ['FastResponse bytes', () => new FastResponse(new Uint8Array([65, 66]), { headers: [['X-Two', 'a'], ['x-two', 'b']] }) as unknown as Response, 'AB', null],
    ['FastResponse URLSearchParams', () => new FastResponse(new URLSearchParams('x=1')) as unknown as Response, 'x=1', 'application/x-www-form-urlencoded;charset=UTF-8'],
  ];
  it.each(bodies)('writes a body of %s', async (_name, make, text, type) => {
    const ex = await exchange(fetchHandler({ fetch: make }, opts), {});
    expect(ex.status).toBe(200);
    expect(ex.body.toString()).toBe(text);
    expect(header(ex, 'content-type')).toEqual(type === null ? [] : [type]);
    // A body known whole gets its length, as from Node's own server and @hono/node-server:
    // one given whole, or a stream whose bytes are all there when the response is written
    // (on Node 24 and later a native Response's known body is such a stream).
    // Not a Blob's, there: a Blob's bytes come from its store a turn later.
    const known = READS_NATIVE_BODIES || _name !== 'a Blob';
    expect(header(ex, 'content-length')).toEqual(known ? [String(Buffer.byteLength(text))] : []);
  });

  it('sends the head of a body still being produced at once, without a length, and streams the rest', async () => {
    let later!: () => void;
    const produced = new Promise<void>((resolve) => (later = resolve));
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(new TextEncoder().encode('first '));
        await produced;
        controller.enqueue(new TextEncoder().encode('second'));
        controller.close();
      },
    });
    const socket = new MemorySocket();
    const connection = new FcgiConnection(socket);
    connection.on('request', fetchHandler({ fetch: () => new Response(body) }, opts));
    socket.push(requestRecords(1, { REQUEST_METHOD: 'GET', SERVER_PROTOCOL: 'HTTP/1.1' }));
    const ended = (): boolean => socket.records().some((r) => r.type === C.FCGI_END_REQUEST);
    // The head and the first chunk leave before the rest is produced.
    while (!socket.stdout(1).includes('first ')) await settle();
    expect(ended()).toBe(false);
    later();
    while (!ended()) await settle();
    const ex = parseCgi(socket.stdout(1));
    expect(ex.body.toString()).toBe('first second');
    expect(ex.headers.filter((l) => l.toLowerCase().startsWith('content-length:'))).toEqual([]);
  });

  it("keeps the app's own Content-Length, once", async () => {
    const ex = await exchange(fetchHandler({ fetch: () => new Response('abc', { headers: { 'Content-Length': '3' } }) }, opts), {});
    expect(header(ex, 'content-length')).toEqual(['3']);
  });

  it('writes a FormData body as multipart, and null bodies as nothing', async () => {
    const form = new FormData();
    form.append('a', '1');
    const ex = await exchange(fetchHandler({ fetch: () => new Response(form) }, opts), {});
    const type = header(ex, 'content-type')[0]!;
    expect(type).toMatch(/^multipart\/form-data; boundary=/);
    const parsed = await new Response(new Uint8Array(ex.body), { headers: { 'content-type': type } }).formData();
    expect(parsed.get('a')).toBe('1');
    const fast = await exchange(fetchHandler({ fetch: () => new FastResponse(form) as unknown as Response }, opts), {});
    const fastType = header(fast, 'content-type')[0]!;
    expect(fastType).toMatch(/^multipart\/form-data; boundary=/);
    expect((await new Response(new Uint8Array(fast.body), { headers: { 'content-type': fastType } }).formData()).get('a')).toBe('1');
    const empty = await exchange(fetchHandler({ fetch: () => new Response(null, { status: 204 }) }, opts), {});
    expect(empty.status).toBe(204);
    expect(empty.body.length).toBe(0);
  });

  it('keeps every Set-Cookie of a FastResponse, and refuses a header a Headers would refuse', async () => {
    const headers = new Headers([['set-cookie', 'a=1'], ['set-cookie', 'b=2']]);
    const ex = await exchange(fetchHandler({ fetch: () => new FastResponse('c', { headers }) as unknown as Response }, opts), {});
    expect(header(ex, 'set-cookie')).toEqual(['a=1', 'b=2']);
    const trimmed = await exchange(fetchHandler({ fetch: () => new FastResponse('c', { headers: { 'x-a': ' padded ' } }) as unknown as Response }, opts), {});
    expect(header(trimmed, 'x-a')).toEqual(['padded']);
    const split = await exchange(fetchHandler({ fetch: () => new FastResponse('c', { headers: { 'x-a': 'a\r\nx-injected: 1' } }) as unknown as Response }, opts), {});
    expect(split.status).toBe(500);
    expect(header(split, 'x-injected')).toEqual([]);
  });

  it('makes a FastResponse a Response to the app: instanceof, status, headers, body, clone', async () => {
    const r = new FastResponse('body', { status: 201, headers: { 'x-a': '1' } }) as unknown as Response;
    expect(r instanceof Response).toBe(true);
    expect(new Response('x') instanceof (FastResponse as unknown as typeof Response)).toBe(true);
    expect([r.status, r.ok, r.statusText, r.headers.get('x-a'), r.headers.get('content-type')]).toEqual([201, true, '', '1', 'text/plain;charset=UTF-8']);
    expect(await r.clone().text()).toBe('body');
    expect(await r.text()).toBe('body');
    expect(r.bodyUsed).toBe(true);
    expect(() => new FastResponse('x', { status: 99 })).toThrow(RangeError);
    expect(() => new FastResponse('x', { status: 204 })).toThrow(TypeError);
  });
});

// The app's sync answer keeps FetchApp's type honest in these tests.
export const typed: FetchApp = { fetch: () => new Response('') };

