import { describe, expect, it } from 'vitest';
import { fetchHandler } from '../../src/adapter/fetch.js';
import { exchange, header, silentLog } from '../helpers/adapter.js';

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
});
