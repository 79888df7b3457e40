// Popular Node frameworks, unchanged, behind the real nginx and runfcgi: one runfcgi (prefork)
// and one nginx per framework, on a UNIX socket with fastcgi_keep_conn and upstream keepalive.
// The fixtures (test/fixtures/frameworks/) all answer the same routes; see there for what each
// framework parses by itself and what the fixture does by hand.

import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FASTCGI_TO_APP, nginxInFront, type Nginx } from '../helpers/nginx.js';
import { FIXTURES, need, start, tempDir, waitForListen, type Started } from '../helpers/run.js';

type Feature =
  | 'multipart' // a multipart file upload parsed by the framework
  | 'etag' // the framework sets an ETag and answers If-None-Match with 304 by itself
  | 'async errors' // a rejected async handler reaches the framework's error handler
  | 'ctx.throw' // Koa's ctx.throw(status, message)
  | 'schema'; // Fastify's JSON schema validation

interface Framework {
  name: string;
  fixture: string;
  features: Feature[];
}

const frameworks: Framework[] = [
  // multer parses multipart; res.send() sets ETags.
  { name: 'Express 5', fixture: 'express5.mjs', features: ['multipart', 'etag', 'async errors'] },
  // Express 4 does not catch rejected async handlers (Express 5 does): not tested here.
  { name: 'Express 4', fixture: 'express4.mjs', features: ['multipart', 'etag'] },
  // Multipart and ETags need @koa/multer and koa-etag (not installed); bodies are read from ctx.req.
  { name: 'Koa', fixture: 'koa.mjs', features: ['ctx.throw'] },
  // Multipart and ETags need @fastify/multipart and @fastify/etag (not installed).
  { name: 'Fastify', fixture: 'fastify.mjs', features: ['schema'] },
  // c.req.parseBody() parses multipart; hono/etag ships with Hono.
  { name: 'Hono', fixture: 'hono.mjs', features: ['multipart', 'etag'] },
  // No framework: no multipart parser and no ETags in Node itself.
  { name: 'a plain (req, res) listener', fixture: 'plain.mjs', features: [] },
];

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** What the fixtures stream from /stream?size=N: (i % 251) in blocks of 64 KiB. */
function pattern(size: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i % 65536) % 251;
  return b;
}

/**
 * A GET by node:http, for conditional requests: fetch() adds `cache-control: no-cache` to any
 * request with If-None-Match (as the Fetch standard says), and Express then rightly never 304s.
 */
function conditionalGet(url: string, etag: string): Promise<{ status: number; etag?: string; body: string }> {
  return new Promise((resolve, reject) => {
    http.get(url, { headers: { 'if-none-match': etag } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, etag: res.headers.etag, body }));
    }).on('error', reject);
  });
}

const STREAM_SIZE = 3 * 1024 * 1024 + 12345; // several chunks, the last one short
const streamHash = sha256(pattern(STREAM_SIZE));
const uploadBytes = randomBytes(2 * 1024 * 1024 + 7);

describe.runIf(need('nginx'))('frameworks behind nginx and runfcgi', () => {
  describe.each(frameworks.map((f) => [f.name, f] as const))('%s', (_name, { fixture, features }) => {
    let dir: string;
    let server: Started;
    let nginx: Nginx;
    const get = (p: string, init?: RequestInit): Promise<Response> => fetch(nginx.url(p), { redirect: 'manual', ...init });

    beforeAll(async () => {
      dir = tempDir('runfcgi-fw-');
      const socket = path.join(dir, 'app.sock');
      server = start([`app=${path.join(FIXTURES, 'frameworks', fixture)}`, `socket=${socket}`, 'umask=000']);
      await waitForListen(socket).catch((error: Error) => {
        throw new Error(`${error.message}; runfcgi said:\n${server.output()}`);
      });
      nginx = await nginxInFront(dir, `unix:${socket}`, { server: `location /secure/ { ${FASTCGI_TO_APP} fastcgi_param HTTPS on; }` });
    });

    afterAll(async () => {
      await nginx?.stop();
      expect(await server?.stop('SIGTERM')).toBe(0);
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it('routes by path and hands the app the query string', async () => {
      const res = await get('/hello/Ada%20Lovelace?x=1&y=two%20words');
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ name: 'Ada Lovelace', query: { x: '1', y: 'two words' } });
    });

    it('answers 404 for an unknown path', async () => {
      const res = await get('/no/such/page');
      expect(res.status).toBe(404);
      await res.arrayBuffer();
    });

    it('receives a JSON body', async () => {
      const body = { name: 'Ada', tags: ['math', 'engines'], nested: { n: 1, ok: true }, accents: 'é✓' };
      const res = await get('/json', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ body });
    });

    it('receives an urlencoded form body', async () => {
      const form = new URLSearchParams({ name: 'Ada Lovelace', lang: 'en', mark: '✓&=' });
      const res = await get('/form', { method: 'POST', body: form });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ body: { name: 'Ada Lovelace', lang: 'en', mark: '✓&=' } });
    });

    it('sets two cookies in two Set-Cookie headers', async () => {
      const res = await get('/cookies');
      expect(res.status).toBe(200);
      const cookies = res.headers.getSetCookie();
      expect(cookies.map((c) => c.split(';')[0])).toEqual(['a=1', 'b=2']);
      expect(cookies[1]).toMatch(/;\s*httponly/i);
      expect(await res.text()).toBe('cookies set');
    });

    it('reads the cookies of the Cookie request header', async () => {
      const res = await get('/cookies/echo', { headers: { cookie: 'a=1; b=2' } });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ a: '1', b: '2' });
    });

    it('redirects with a 302 and a Location', async () => {
      const res = await get('/redirect');
      expect(res.status).toBe(302);
      expect(res.headers.get('location')).toBe('/hello/redirected');
      await res.arrayBuffer();
    });

    it('streams a response of several MB byte-exact, without a Content-Length', async () => {
      const res = await get(`/stream?size=${STREAM_SIZE}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/octet-stream/);
      expect(res.headers.get('content-length')).toBeNull();
      const body = Buffer.from(await res.arrayBuffer());
      expect(body.length).toBe(STREAM_SIZE);
      expect(sha256(body)).toBe(streamHash);
    });

    it("reports nginx's client address and plain http without HTTPS=on", async () => {
      const res = await get('/whoami');
      expect(await res.json()).toEqual({ ip: '127.0.0.1', protocol: 'http', secure: false });
    });

    it('reports https when nginx sends HTTPS=on', async () => {
      const res = await get('/secure/whoami');
      expect(await res.json()).toEqual({ ip: '127.0.0.1', protocol: 'https', secure: true });
    });

    if (features.includes('multipart')) {
      it('receives a multipart file upload byte-exact, with its text field', async () => {
        const form = new FormData();
        form.append('note', 'hello from the test');
        form.append('file', new Blob([uploadBytes]), 'data.bin');
        const res = await get('/upload', { method: 'POST', body: form });
        expect(res.status).toBe(200);
        expect(await res.json()).toEqual({
          note: 'hello from the test',
          name: 'data.bin',
          size: uploadBytes.length,
          sha256: sha256(uploadBytes),
        });
      });
    }

    if (features.includes('etag')) {
      it('answers a matching If-None-Match with 304 and an empty body', async () => {
        const first = await get('/etag');
        expect(first.status).toBe(200);
        expect(await first.text()).toBe('an entity worth caching');
        const etag = first.headers.get('etag');
        expect(etag).toMatch(/^(W\/)?"[^"]+"$/);
        const again = await conditionalGet(nginx.url('/etag'), etag!);
        expect(again).toEqual({ status: 304, etag, body: '' });
        const changed = await conditionalGet(nginx.url('/etag'), '"something-else"');
        expect(changed).toEqual({ status: 200, etag, body: 'an entity worth caching' });
      });
    }

    if (features.includes('async errors')) {
      it("hands a rejected async handler to the app's error handler", async () => {
        const res = await get('/async-error');
        expect(res.status).toBe(500);
        expect(await res.json()).toEqual({ caught: 'rejected on purpose' });
      });
    }

    if (features.includes('ctx.throw')) {
      it('answers ctx.throw(403, message) with that status and message', async () => {
        const res = await get('/forbidden');
        expect(res.status).toBe(403);
        expect(await res.text()).toBe('no entry');
      });
    }

    if (features.includes('schema')) {
      it('rejects a body that fails the route schema with a 400, and accepts one that fits', async () => {
        const post = (body: unknown): Promise<Response> =>
          get('/validated', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
        const bad = await post({ count: 'many' });
        expect(bad.status).toBe(400);
        expect(await bad.json()).toMatchObject({ statusCode: 400, code: 'FST_ERR_VALIDATION' });
        const good = await post({ count: 3 });
        expect(good.status).toBe(200);
        expect(await good.json()).toEqual({ count: 3 });
      });
    }
  });
});
