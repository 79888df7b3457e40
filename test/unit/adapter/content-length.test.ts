// Content-Length as Node's own server sends it: each handler runs under http.createServer and
// through the adapter, and the two heads must agree (issue 16: runfcgi sent none at all).

import http, { type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { nodeHandler } from '../../../src/adapter/node.js';
import { exchange, header, silentLog } from '../../helpers/adapter.js';

const opts = { debug: false, log: silentLog };

const CASES: Record<string, RequestListener> = {
  'end(string)': (_req, res) => res.end('hello world\n'),
  'end(Buffer)': (_req, res) => res.end(Buffer.from('bytes\n')),
  'end() with no body': (_req, res) => res.end(),
  'writeHead + end(body)': (_req, res) => {
    res.writeHead(201, { 'content-type': 'text/plain' });
    res.end('created\n');
  },
  'setHeader + end(multi-byte)': (_req, res) => {
    res.setHeader('content-type', 'text/plain; charset=utf-8');
    res.end('héllo wörld\n');
  },
  'write + end (streamed)': (_req, res) => {
    res.write('part one, ');
    res.end('part two\n');
  },
  'writeHead + write + end': (_req, res) => {
    res.writeHead(200);
    res.write('a');
    res.end('b');
  },
  'length set by the app': (_req, res) => {
    res.setHeader('content-length', '3');
    res.end('abc');
  },
  '204': (_req, res) => {
    res.statusCode = 204;
    res.end();
  },
  '304': (_req, res) => {
    res.writeHead(304, { etag: '"x"' });
    res.end();
  },
  'flushHeaders then end(body)': (_req, res) => {
    res.flushHeaders();
    res.end('late body\n');
  },
};

/** What Node's own server sends for `listener`, asked with `method`. */
function nodeHead(listener: RequestListener, method: string): Promise<{ status: number; length: string | undefined; te: string | undefined; body: string }> {
  const server = http.createServer(listener);
  return new Promise((resolve, reject) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      const req = http.request({ port, host: '127.0.0.1', method, path: '/', agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => {
          server.close();
          resolve({ status: res.statusCode!, length: res.headers['content-length'], te: res.headers['transfer-encoding'], body });
        });
      });
      req.on('error', reject);
      req.end();
    });
  });
}

describe('Content-Length as Node\'s own server sends it', () => {
  for (const method of ['GET', 'HEAD']) {
    for (const [name, listener] of Object.entries(CASES)) {
      it(`${method} ${name}`, async () => {
        const node = await nodeHead(listener, method);
        const ours = await exchange(nodeHandler(listener, opts), { REQUEST_METHOD: method });
        expect(ours.status).toBe(node.status);
        expect(header(ours, 'content-length')[0]).toBe(node.length);
        expect(ours.body.toString()).toBe(node.body);
        // Chunked framing is the web server's business: never in the CGI head or body.
        expect(header(ours, 'transfer-encoding')).toEqual([]);
      });
    }
  }

  it('gives an HTTP/1.0 client a length too, where Node itself would only close the connection', async () => {
    const ours = await exchange(nodeHandler(CASES['end(string)']!, opts), { SERVER_PROTOCOL: 'HTTP/1.0' });
    expect(header(ours, 'content-length')).toEqual(['12']);
    expect(ours.body.toString()).toBe('hello world\n');
    const streamed = await exchange(nodeHandler(CASES['write + end (streamed)']!, opts), { SERVER_PROTOCOL: 'HTTP/1.0' });
    expect(header(streamed, 'content-length')).toEqual([]);
    expect(streamed.body.toString()).toBe('part one, part two\n');
  });
});

// Node's own behaviour for the streamed case: chunked, no length. Pinned so the table above
// would notice if a Node version changed it.
describe('the reference server', () => {
  it('streams a write + end body chunked, without a length', async () => {
    const node = await nodeHead(CASES['write + end (streamed)']!, 'GET');
    expect(node).toMatchObject({ length: undefined, te: 'chunked' });
  });
});
