import { createHash } from 'node:crypto';
import http from 'node:http';
import express from 'express';
import { describe, expect, it } from 'vitest';
import { nodeHandler } from '../../../src/adapter/node.js';
import { handlerFor } from '../../../src/adapter/load.js';
import { exchange, header, silentLog } from '../../helpers/adapter.js';
import { waitFor } from '../../helpers/load.js';

const opts = { debug: false, log: silentLog };

describe('Node (req, res) adapter', () => {
  it('turns the status line into Status: and sends no chunked framing or Connection header', async () => {
    const ex = await exchange(nodeHandler((_req, res) => {
      res.statusCode = 418;
      res.write('part one, ');
      res.end('part two');
    }, opts), {});
    expect(ex.headers[0]).toBe("Status: 418 I'm a Teapot");
    expect(ex.headers.join('\n')).not.toMatch(/transfer-encoding|connection|keep-alive/i);
    expect(ex.body.toString()).toBe('part one, part two');
  });

  it('drops the hop-by-hop headers an app sets itself, and keeps the rest', async () => {
    const ex = await exchange(nodeHandler((_req, res) => {
      res.setHeader('Connection', 'keep-alive');
      res.setHeader('Keep-Alive', 'timeout=5');
      res.writeHead(200, { Upgrade: 'h2c', 'X-Kept': 'yes' });
      res.end('ok');
    }, opts), {});
    expect(ex.status).toBe(200);
    expect(ex.headers.join('\n')).not.toMatch(/connection|keep-alive|upgrade/i);
    expect(header(ex, 'x-kept')).toEqual(['yes']);
    expect(ex.body.toString()).toBe('ok');
  });

  it('sends no chunk framing when the app sets Transfer-Encoding: chunked itself', async () => {
    const ex = await exchange(nodeHandler((_req, res) => {
      res.setHeader('Transfer-Encoding', 'chunked');
      res.write('abc');
      res.end('def');
    }, opts), {});
    expect(ex.headers.join('\n')).not.toMatch(/transfer-encoding/i);
    expect(ex.body.toString()).toBe('abcdef');
  });

  it('gives req.url the browser URL: REQUEST_URI, else SCRIPT_NAME + PATH_INFO + query', async () => {
    const seen: string[] = [];
    const handler = nodeHandler((req, res) => {
      seen.push(req.url!);
      res.end();
    }, opts);
    // Apache and lighttpd after a rewrite to /mysite.fcgi/...
    await exchange(handler, { REQUEST_URI: '/hello/world?x=1', SCRIPT_NAME: '/mysite.fcgi', PATH_INFO: '/hello/world', QUERY_STRING: 'x=1' });
    // nginx's stock fastcgi_params: empty PATH_INFO, SCRIPT_NAME is the path
    await exchange(handler, { REQUEST_URI: '/hello/world?x=1', SCRIPT_NAME: '/hello/world', PATH_INFO: '', QUERY_STRING: 'x=1' });
    // a plain CGI client without REQUEST_URI
    await exchange(handler, { SCRIPT_NAME: '/mysite.fcgi', PATH_INFO: '/a/b', QUERY_STRING: 'q=2' });
    expect(seen).toEqual(['/hello/world?x=1', '/hello/world?x=1', '/mysite.fcgi/a/b?q=2']);
  });

  it('builds headers, HTTP version, remote address and HTTPS from the params', async () => {
    let got: Record<string, unknown> = {};
    await exchange(nodeHandler((req, res) => {
      got = {
        method: req.method,
        headers: req.headers,
        version: req.httpVersion,
        addr: req.socket.remoteAddress,
        port: req.socket.remotePort,
        encrypted: (req.socket as { encrypted?: boolean }).encrypted,
        role: req.fcgi?.role,
        raw: req.fcgi?.params.SCRIPT_FILENAME,
        env: process.env.HTTP_PROXY,
      };
      res.end();
    }, opts), {
      REQUEST_METHOD: 'PUT', SERVER_PROTOCOL: 'HTTP/1.0', HTTP_HOST: 'example.com', HTTP_X_FORWARDED_FOR: '9.9.9.9',
      HTTP_PROXY: 'http://evil', CONTENT_TYPE: 'text/plain', CONTENT_LENGTH: '0',
      REMOTE_ADDR: '10.1.2.3', REMOTE_PORT: '5555', HTTPS: 'on', SCRIPT_FILENAME: '/srv/x',
    });
    expect(got).toEqual({
      method: 'PUT',
      headers: { host: 'example.com', 'x-forwarded-for': '9.9.9.9', proxy: 'http://evil', 'content-type': 'text/plain', 'content-length': '0' },
      version: '1.0', addr: '10.1.2.3', port: 5555, encrypted: true, role: 'RESPONDER', raw: '/srv/x',
      env: undefined, // httpoxy: params never reach process.env
    });
  });

  it('sends no body for HEAD, and keeps every Set-Cookie header', async () => {
    const ex = await exchange(nodeHandler((_req, res) => {
      res.setHeader('Set-Cookie', ['a=1; Path=/', 'b=2; HttpOnly']);
      res.setHeader('Content-Length', '5');
      res.end('hello');
    }, opts), { REQUEST_METHOD: 'HEAD' });
    expect(header(ex, 'set-cookie')).toEqual(['a=1; Path=/', 'b=2; HttpOnly']);
    expect(ex.body.length).toBe(0);
  });

  it('streams the request body to the app byte for byte', async () => {
    const body = Buffer.alloc(300_000);
    for (let i = 0; i < body.length; i++) body[i] = (i * 7) % 251;
    const ex = await exchange(nodeHandler((req, res) => {
      const hash = createHash('sha256');
      req.on('data', (c: Buffer) => hash.update(c));
      req.on('end', () => res.end(hash.digest('hex')));
    }, opts), { REQUEST_METHOD: 'POST', CONTENT_LENGTH: String(body.length) }, body);
    expect(ex.body.toString()).toBe(createHash('sha256').update(body).digest('hex'));
  });

  it('answers 500 without details when the handler throws, and with the stack under debug=true', async () => {
    const boom = (): void => {
      throw new Error('kaboom');
    };
    const plain = await exchange(nodeHandler(boom, opts), {});
    expect(plain.status).toBe(500);
    expect(plain.body.toString()).toBe('Internal Server Error\n');
    const debug = await exchange(nodeHandler(boom, { ...opts, debug: true }), {});
    expect(debug.status).toBe(500);
    expect(debug.body.toString()).toMatch(/Error: kaboom\n\s+at boom/);
  });

  it('answers 500 when an async handler rejects', async () => {
    const ex = await exchange(nodeHandler(async () => {
      throw new Error('later');
    }, opts), {});
    expect(ex.status).toBe(500);
  });

  it('serves an http.Server through its request listeners', async () => {
    const server = http.createServer((_req, res) => res.end('from server'));
    const ex = await exchange(handlerFor(server, opts, 'x'), {});
    expect(ex.body.toString()).toBe('from server');
  });

  it('runs Express unchanged: routing, query, JSON, cookies, redirects, 404', async () => {
    const app = express();
    app.use(express.json());
    app.get('/hello/:name', (req, res) => {
      res.cookie('seen', '1').cookie('lang', 'en').json({ name: req.params.name, q: req.query.q, protocol: req.protocol });
    });
    app.post('/echo', (req, res) => res.status(201).json(req.body));
    app.get('/old', (_req, res) => res.redirect(301, '/new'));
    const h = handlerFor(app, opts, 'express');
    const hello = await exchange(h, { REQUEST_URI: '/hello/ada?q=1', HTTPS: 'on' });
    expect(hello.status).toBe(200);
    expect(JSON.parse(hello.body.toString())).toEqual({ name: 'ada', q: '1', protocol: 'https' });
    expect(header(hello, 'set-cookie')).toEqual(['seen=1; Path=/', 'lang=en; Path=/']);
    const json = JSON.stringify({ a: [1, 2], b: 'c' });
    const echo = await exchange(h, { REQUEST_METHOD: 'POST', REQUEST_URI: '/echo', CONTENT_TYPE: 'application/json', CONTENT_LENGTH: String(json.length) }, json);
    expect(echo.status).toBe(201);
    expect(JSON.parse(echo.body.toString())).toEqual({ a: [1, 2], b: 'c' });
    const old = await exchange(h, { REQUEST_URI: '/old' });
    expect(old.status).toBe(301);
    expect(header(old, 'location')).toEqual(['/new']);
    const missing = await exchange(h, { REQUEST_URI: '/nope' });
    expect(missing.status).toBe(404);
  });

  it('lets the app see an abort from the web server as a closed response', async () => {
    let closed = false;
    const { socket } = await exchange(nodeHandler((_req, res) => {
      res.on('close', () => (closed = true));
      res.write('partial');
    }, opts), {}, '', 50);
    const { encodeRecord } = await import('../../../src/protocol/fcgi/codec.js');
    socket.push(encodeRecord(2, 1));
    await waitFor(() => closed, 30_000, "the response's close event");
    expect(closed).toBe(true);
    expect(socket.records().filter((r) => r.type === 3)).toHaveLength(1);
  });
});
