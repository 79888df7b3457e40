import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { createSchema, createYoga } from 'graphql-yoga';
import { fetchHandler } from '../../../src/adapter/fetch.js';
import { exchange, header } from '../../helpers/adapter.js';
import pino from 'pino';

const lines: string[] = [];
const log = pino({ level: 'error' }, { write: (line: string) => void lines.push(line) });
const opts = { debug: false, log };

function yoga() {
  return createYoga({
    schema: createSchema({ typeDefs: 'type Query { hello(name: String): String }', resolvers: { Query: { hello: (_: unknown, a: { name?: string }) => `hello ${a.name ?? 'world'}` } } }),
    logging: false,
  });
}

describe('a Response of another class or realm', () => {
  it("serves GraphQL Yoga's own (whatwg-node) Response, GET and POST", async () => {
    const app = yoga();
    const got = await exchange(fetchHandler({ fetch: app.fetch }, opts), { REQUEST_URI: '/graphql?query=%7Bhello%7D', HTTP_HOST: 'h', HTTP_ACCEPT: 'application/json' });
    expect(got.status).toBe(200);
    expect(JSON.parse(got.body.toString())).toEqual({ data: { hello: 'hello world' } });
    const body = JSON.stringify({ query: 'query($n: String) { hello(name: $n) }', variables: { n: 'fcgi' } });
    const posted = await exchange(fetchHandler({ fetch: app.fetch }, opts), { REQUEST_METHOD: 'POST', REQUEST_URI: '/graphql', HTTP_HOST: 'h', CONTENT_TYPE: 'application/json', CONTENT_LENGTH: String(body.length), HTTP_ACCEPT: 'application/json' }, body);
    expect(posted.status).toBe(200);
    expect(header(posted, 'content-type')[0]).toMatch(/^application\/json/);
    expect(JSON.parse(posted.body.toString())).toEqual({ data: { hello: 'hello fcgi' } });
  });

  it('writes a Response made in another realm (a vm context), its Set-Cookie headers each on a line', async () => {
    const context = vm.createContext({ Response, Headers });
    // The other realm's own Uint8Array and ReadableStream, not this one's.
    const made = vm.runInContext(`
      const headers = [['x-a', '1'], ['set-cookie', 'a=1'], ['set-cookie', 'b=2']];
      const body = { getReader() { let sent = false; return { read: async () => sent ? { done: true } : (sent = true, { done: false, value: new Uint8Array([104, 105]) }), cancel: async () => {} }; } };
      ({ status: 201, statusText: 'Made', headers: new Headers(headers), body });
    `, context) as unknown;
    const got = await exchange(fetchHandler({ fetch: () => made as Response }, opts), {});
    expect(got.headers[0]).toBe('Status: 201 Made');
    expect(header(got, 'set-cookie')).toEqual(['a=1', 'b=2']);
    expect(header(got, 'x-a')).toEqual(['1']);
    expect(header(got, 'content-type')).toEqual(['text/plain; charset=UTF-8']);
    expect(got.body.toString()).toBe('hi');
  });

  it('writes a Response-like with a null body and a plain record of headers', async () => {
    const got = await exchange(fetchHandler({ fetch: () => ({ status: 204, headers: { 'x-b': '2' }, body: null }) as unknown as Response }, opts), {});
    expect(got.status).toBe(204);
    expect(header(got, 'x-b')).toEqual(['2']);
    expect(got.body.length).toBe(0);
  });

  it('answers 500 for what is no Response, with a log line naming what came back', async () => {
    lines.length = 0;
    const got = await exchange(fetchHandler({ fetch: () => ({ ok: true, data: 1 }) as unknown as Response }, opts), {});
    expect(got.status).toBe(500);
    expect(lines.join('')).toContain('fetch handler returned an object with keys ok, data, not a Response');
    lines.length = 0;
    const none = await exchange(fetchHandler({ fetch: () => undefined as unknown as Response }, opts), {});
    expect(none.status).toBe(500);
    expect(lines.join('')).toContain('fetch handler returned undefined, not a Response');
  });
});
