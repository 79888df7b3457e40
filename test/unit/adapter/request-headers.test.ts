// Both adapters show the request as Node's own server would (issues 25 and 29): repeated headers
// joined by Node's rules, no stray length, no hop-by-hop header, 431 over maxheadersize=.

import { describe, expect, it } from 'vitest';
import { fetchHandler } from '../../../src/adapter/fetch.js';
import { withHeadLimit } from '../../../src/adapter/head-limit.js';
import { nodeHandler } from '../../../src/adapter/node.js';
import type { RequestHandler } from '../../../src/adapter/types.js';
import { exchange, silentLog } from '../../helpers/adapter.js';

const opts = { debug: false, log: silentLog };

interface Seen {
  headers: Record<string, string | string[]>;
  body: string;
}

/** An app that answers with the headers it saw and the body it read, as JSON. */
const ADAPTERS: [string, () => RequestHandler][] = [
  ['(req, res)', () => nodeHandler((req, res) => {
    let body = '';
    req.setEncoding('latin1');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => res.end(JSON.stringify({ headers: req.headers, body })));
  }, opts)],
  ['fetch', () => fetchHandler({
    async fetch(request) {
      const body = request.body === null ? '' : await request.text();
      return Response.json({ headers: Object.fromEntries(request.headers), body });
    },
  }, opts)],
];

async function seen(handler: RequestHandler, pairs: [string, string][], body = ''): Promise<Seen> {
  const ex = await exchange(handler, pairs, body);
  expect(ex.status).toBe(200);
  return JSON.parse(ex.body.toString()) as Seen;
}

describe.each(ADAPTERS)('the %s adapter', (_name, make) => {
  it('joins two Cookie lines with "; " and other repeated headers with ", ", as Node does', async () => {
    const s = await seen(make(), [['HTTP_HOST', 'x'], ['HTTP_COOKIE', 'a=1'], ['HTTP_X_A', '1'], ['HTTP_COOKIE', 'b=2'], ['HTTP_X_A', '2']]);
    expect(s.headers.cookie).toBe('a=1; b=2');
    expect(s.headers['x-a']).toBe('1, 2');
  });

  it('reads a body of unknown length (CONTENT_LENGTH=-1, Caddy\'s chunked upload) to its end, with no content-length', async () => {
    const s = await seen(make(), [['REQUEST_METHOD', 'POST'], ['CONTENT_LENGTH', '-1'], ['CONTENT_TYPE', 'text/plain']], 'chunked body');
    expect(s.body).toBe('chunked body');
    expect(s.headers['content-length']).toBeUndefined();
    expect(s.headers['transfer-encoding']).toBe('chunked');
  });

  it('shows no content-length for CONTENT_LENGTH=0 on a GET', async () => {
    const s = await seen(make(), [['REQUEST_METHOD', 'GET'], ['CONTENT_LENGTH', '0'], ['HTTP_HOST', 'x']]);
    expect(s.headers).toEqual({ host: 'x' });
  });

  it('never shows both content-length and transfer-encoding: the de-chunked body keeps its length', async () => {
    const s = await seen(make(), [['REQUEST_METHOD', 'POST'], ['CONTENT_LENGTH', '5'], ['HTTP_TRANSFER_ENCODING', 'chunked']], 'hello');
    expect(s.body).toBe('hello');
    expect(s.headers['content-length']).toBe('5');
    expect(s.headers['transfer-encoding']).toBeUndefined();
  });

  it('shows no hop-by-hop header of the browser\'s connection', async () => {
    const s = await seen(make(), [['HTTP_HOST', 'x'], ['HTTP_CONNECTION', 'keep-alive'], ['HTTP_KEEP_ALIVE', '300'], ['HTTP_TE', 'trailers'], ['HTTP_UPGRADE', 'h2c'], ['HTTP_EXPECT', '100-continue']]);
    expect(s.headers).toEqual({ host: 'x' });
  });

  it('answers a head of maxheadersize= bytes or more with 431, without calling the app', async () => {
    let called = 0;
    const app = make();
    const limited = withHeadLimit((fcgi) => {
      called++;
      app(fcgi);
    }, 16384, silentLog);
    const under = await exchange(limited, [['REQUEST_URI', '/'], ['HTTP_X_BIG', 'x'.repeat(16000)]]);
    expect(under.status).toBe(200);
    const over = await exchange(limited, [['REQUEST_URI', '/'], ['HTTP_X_BIG', 'x'.repeat(9000)], ['HTTP_X_BIG', 'y'.repeat(8000)]]);
    expect(over.status).toBe(431);
    expect(over.body.length).toBe(0);
    expect(called).toBe(1);
  });
});
