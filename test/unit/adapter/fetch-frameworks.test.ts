// Fetch frameworks, unchanged, on the fetch adapter over a real FastCGI connection (in memory):
// Hono, h3 v2 (srvx's FastResponse) and React Router's createRequestHandler.

import { createHash } from 'node:crypto';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { fetchHandler, type FetchApp } from '../../../src/adapter/fetch.js';
import type { RequestHandler } from '../../../src/adapter/types.js';
import { exchange, header, silentLog } from '../../helpers/adapter.js';

const FRAMEWORKS = path.join(import.meta.dirname, '../../fixtures/frameworks');

async function load(fixture: string): Promise<RequestHandler> {
  const mod = (await import(pathToFileURL(path.join(FRAMEWORKS, fixture)).href)) as { default: FetchApp };
  return fetchHandler(mod.default, { debug: false, log: silentLog });
}

const json = (ex: { body: Buffer }): unknown => JSON.parse(ex.body.toString()) as unknown;

/** A multipart body as a browser sends it (boundary and all), from a real FormData. */
async function multipart(form: FormData): Promise<{ body: Buffer; type: string }> {
  const response = new Response(form);
  return { body: Buffer.from(await response.arrayBuffer()), type: response.headers.get('content-type')! };
}

const host = { HTTP_HOST: 'example.com' };

describe('Hono on the fetch adapter', () => {
  let app: RequestHandler;
  beforeAll(async () => {
    app = await load('hono.mjs');
  });

  it('routes with params and query', async () => {
    const ex = await exchange(app, { ...host, REQUEST_URI: '/hello/ada?x=1&y=two' });
    expect(ex.status).toBe(200);
    expect(json(ex)).toEqual({ name: 'ada', query: { x: '1', y: 'two' } });
  });

  it('reads a JSON body with c.req.json()', async () => {
    const body = JSON.stringify({ a: [1, 2], s: 'é' });
    const ex = await exchange(app, { ...host, REQUEST_METHOD: 'POST', REQUEST_URI: '/json', CONTENT_TYPE: 'application/json', CONTENT_LENGTH: String(Buffer.byteLength(body)) }, body);
    expect(json(ex)).toEqual({ body: { a: [1, 2], s: 'é' } });
  });

  it('parses urlencoded and multipart bodies with c.req.parseBody()', async () => {
    const form = 'a=1&b=two+words&c=%C3%A9';
    const urlencoded = await exchange(app, { ...host, REQUEST_METHOD: 'POST', REQUEST_URI: '/form', CONTENT_TYPE: 'application/x-www-form-urlencoded', CONTENT_LENGTH: String(form.length) }, form);
    expect(json(urlencoded)).toEqual({ body: { a: '1', b: 'two words', c: 'é' } });

    const file = Buffer.alloc(300_000, 7);
    const data = new FormData();
    data.append('note', 'hello');
    data.append('file', new Blob([file], { type: 'application/octet-stream' }), 'f.bin');
    const { body, type } = await multipart(data);
    const ex = await exchange(app, { ...host, REQUEST_METHOD: 'POST', REQUEST_URI: '/upload', CONTENT_TYPE: type, CONTENT_LENGTH: String(body.length) }, body);
    expect(json(ex)).toEqual({ note: 'hello', name: 'f.bin', size: file.length, sha256: createHash('sha256').update(file).digest('hex') });
  });

  it('streams c.body(stream) out', async () => {
    const ex = await exchange(app, { ...host, REQUEST_URI: '/stream?size=200000' });
    expect(ex.body.length).toBe(200_000);
    expect(ex.body[65_537]).toBe(1 % 251);
  });

  it('sets and reads cookies', async () => {
    const set = await exchange(app, { ...host, REQUEST_URI: '/cookies' });
    expect(header(set, 'set-cookie')).toEqual(['a=1; Path=/', 'b=2; Path=/; HttpOnly']);
    const echo = await exchange(app, { ...host, REQUEST_URI: '/cookies/echo', HTTP_COOKIE: 'a=1; b=2' });
    expect(json(echo)).toEqual({ a: '1', b: '2' });
  });

  it('answers HEAD without a body', async () => {
    const ex = await exchange(app, { ...host, REQUEST_METHOD: 'HEAD', REQUEST_URI: '/hello/x' });
    expect(ex.status).toBe(200);
    expect(header(ex, 'content-type')[0]).toMatch(/application\/json/);
    expect(ex.body.length).toBe(0);
  });
});

describe('h3 v2 on the fetch adapter', () => {
  let app: RequestHandler;
  beforeAll(async () => {
    app = await load('h3.mjs');
  });

  it('routes and answers JSON, text and HTML', async () => {
    expect(json(await exchange(app, { ...host, REQUEST_URI: '/hello/h3?q=1' }))).toEqual({ name: 'h3', query: { q: '1' } });
    const text = await exchange(app, { ...host, REQUEST_URI: '/text' });
    expect(text.body.toString()).toBe('plain text');
    expect(header(text, 'content-type')[0]).toMatch(/^text\/plain/);
    const page = await exchange(app, { ...host, REQUEST_URI: '/html' });
    expect(page.body.toString()).toBe('<p>h3</p>');
    expect(header(page, 'content-type')[0]).toMatch(/^text\/html/);
  });

  it('reads JSON and urlencoded bodies', async () => {
    const body = '{"x":1}';
    const ex = await exchange(app, { ...host, REQUEST_METHOD: 'POST', REQUEST_URI: '/json', CONTENT_TYPE: 'application/json', CONTENT_LENGTH: String(body.length) }, body);
    expect(json(ex)).toEqual({ body: { x: 1 } });
    const form = 'a=1&b=2';
    const f = await exchange(app, { ...host, REQUEST_METHOD: 'POST', REQUEST_URI: '/form', CONTENT_TYPE: 'application/x-www-form-urlencoded', CONTENT_LENGTH: String(form.length) }, form);
    expect(json(f)).toEqual({ body: { a: '1', b: '2' } });
  });

  it('keeps every cookie, redirects, streams, and answers 500 for a throwing handler', async () => {
    const set = await exchange(app, { ...host, REQUEST_URI: '/cookies' });
    expect(header(set, 'set-cookie')).toEqual(['a=1; Path=/', 'b=2; Path=/; HttpOnly']);
    expect(json(await exchange(app, { ...host, REQUEST_URI: '/cookies/echo', HTTP_COOKIE: 'a=1; b=2' }))).toEqual({ a: '1', b: '2' });
    const moved = await exchange(app, { ...host, REQUEST_URI: '/redirect' });
    expect(moved.status).toBe(302);
    expect(header(moved, 'location')).toEqual(['/hello/redirected']);
    expect((await exchange(app, { ...host, REQUEST_URI: '/stream' })).body.toString()).toBe('one,two');
    expect((await exchange(app, { ...host, REQUEST_URI: '/boom' })).status).toBe(500);
    expect((await exchange(app, { ...host, REQUEST_URI: '/nowhere' })).status).toBe(404);
  });
});

describe("React Router's createRequestHandler on the fetch adapter", () => {
  let app: RequestHandler;
  beforeAll(async () => {
    app = await load('react-router.mjs');
  });

  it('runs a resource route loader and action', async () => {
    const get = await exchange(app, { ...host, REQUEST_URI: '/api/echo?q=search', HTTP_USER_AGENT: 'vitest' });
    expect(get.status).toBe(200);
    expect(json(get)).toEqual({ method: 'GET', q: 'search', ua: 'vitest' });
    const body = '{"n":42}';
    const post = await exchange(app, { ...host, REQUEST_METHOD: 'POST', REQUEST_URI: '/api/echo', CONTENT_TYPE: 'application/json', CONTENT_LENGTH: String(body.length) }, body);
    expect(post.status).toBe(200);
    expect(json(post)).toEqual({ method: 'POST', body: { n: 42 } });
    expect(header(post, 'set-cookie')).toEqual(['seen=1']);
  });

  it('renders a document request through the server entry', async () => {
    const page = await exchange(app, { ...host, REQUEST_URI: '/' });
    expect(page.status).toBe(200);
    expect(page.body.toString()).toBe('<html>document /</html>');
  });
});
