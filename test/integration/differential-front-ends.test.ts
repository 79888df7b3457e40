// What the app sees of a request, behind nginx, Caddy and HAProxy: runfcgi over each one's
// FastCGI against Node's own server behind the same front end's HTTP proxy (issues 25 and 29).

import fs from 'node:fs';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appHeaders, nginxFront, startPair, type Pair, type Side, type StartFrontEnd } from '../helpers/differential.js';
import { caddyFront, haproxyFront } from '../helpers/front-ends.js';
import { need, tempDir } from '../helpers/run.js';

interface Answer {
  status: number;
  body: string;
}

/** Decodes a chunked body (the front end may frame its answer so). */
function dechunk(text: string): string {
  let out = '';
  let at = 0;
  for (let guard = 0; guard < 100_000; guard++) {
    const eol = text.indexOf('\r\n', at);
    const size = parseInt(text.slice(at, eol), 16);
    if (!(size > 0)) return out;
    out += text.slice(eol + 2, eol + 2 + size);
    at = eol + 2 + size + 2;
  }
  return out;
}

/** A request as written (repeated header lines and all), over a connection of its own. */
function raw(side: Side, head: string, body = ''): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(side.port, '127.0.0.1');
    let data = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (data += d));
    socket.on('error', reject);
    socket.on('close', () => {
      const end = data.indexOf('\r\n\r\n');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(data)?.[1] ?? 0);
      const rest = data.slice(end + 4);
      resolve({ status, body: /\r\ntransfer-encoding: *chunked/i.test(data.slice(0, end)) ? dechunk(rest) : rest });
    });
    // The Host a browser would send: Caddy serves a site block only for its own address.
    socket.write(`${head.replace(/\n/g, '\r\n')}Host: 127.0.0.1:${side.port}\r\nConnection: close\r\n\r\n${body}`);
  });
}

/**
 * The request headers the app saw (its JSON answer), or the status when it is
 * not 200; without the ones that name the side's own port.
 */
async function seen(side: Side, head: string): Promise<unknown> {
  const a = await raw(side, head);
  if (a.status !== 200) return a.status;
  const headers = JSON.parse(a.body) as Record<string, string>;
  delete headers.host;
  delete headers['x-forwarded-host'];
  return headers;
}

/** A body sent as a stream: fetch frames it chunked, without a length. */
function chunked(text: string): RequestInit {
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const part of text.match(/.{1,7}/gs) ?? []) controller.enqueue(new TextEncoder().encode(part));
      controller.close();
    },
  });
  return { method: 'POST', body: stream, headers: { 'content-type': 'text/plain' }, duplex: 'half' } as RequestInit;
}

const FRONTS: [string, StartFrontEnd, string][] = [['nginx', nginxFront, 'nginx'], ['Caddy', caddyFront, 'caddy'], ['HAProxy', haproxyFront, 'haproxy']];

describe.each(FRONTS)('behind %s: the request as Node\'s own server behind its HTTP proxy shows it', (name, front, binary) => {
  let dir: string;
  let pair: Pair;
  /** A fetch handler: under Node's own server on @hono/node-server. */
  let fetchPair: Pair;
  const ready = need(binary);
  beforeAll(async () => {
    if (!ready) return;
    dir = tempDir();
    fs.mkdirSync(`${dir}/fetch`);
    // One after the other: if the second fails to start, afterAll still stops the first.
    pair = await startPair(dir, 'upload.mjs', [], front);
    fetchPair = await startPair(`${dir}/fetch`, 'fetch.mjs', [], front);
  });
  afterAll(async () => {
    await pair?.stop();
    await fetchPair?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it.runIf(ready)('two Cookie lines reach the app joined with "; "', async () => {
    const head = 'GET /headers HTTP/1.1\nCookie: a=1\nCookie: b=2\n';
    const node = (await seen(pair.node, head)) as Record<string, string>;
    const ours = (await seen(pair.runfcgi, head)) as Record<string, string>;
    expect(node.cookie).toBe('a=1; b=2');
    expect(ours.cookie).toBe(node.cookie);
  });

  it.runIf(ready)('a GET shows no length: the same headers as on Node\'s server (repeated ones joined alike)', async () => {
    // A browser's User-Agent and Accept-Encoding: Caddy's HTTP proxy adds its own when they are missing.
    const head = 'GET /headers HTTP/1.1\nAccept: text/html\nUser-Agent: test\nAccept-Encoding: gzip\nX-Repeated: 1\nX-Repeated: 2\n';
    const node = (await seen(pair.node, head)) as Record<string, string>;
    const ours = (await seen(pair.runfcgi, head)) as Record<string, string>;
    expect(ours['content-length']).toBeUndefined();
    expect(ours).toEqual(node);
  });

  // nginx's proxy_pass drops these whether or not Connection lists them; HAProxy's HTTP proxy
  // passes those Connection does not list (RFC 9110 7.6.1), so there runfcgi shows fewer.
  it.runIf(ready && name === 'nginx')('shows none of the hop-by-hop headers nginx\'s proxy_pass drops', async () => {
    const head = 'GET /headers HTTP/1.1\nAccept: text/html\nTE: trailers\nUpgrade: websocket\nKeep-Alive: 300\nProxy-Connection: keep-alive\n';
    const node = (await seen(pair.node, head)) as Record<string, string>;
    const ours = (await seen(pair.runfcgi, head)) as Record<string, string>;
    expect(ours).toEqual(node);
    expect(Object.keys(ours)).not.toContain('te');
  });

  it.runIf(ready)('a chunked upload is accepted by Express\'s body parser, as on Node\'s server', async () => {
    const text = 'a chunked upload, sent in pieces of seven bytes\n'.repeat(20);
    const node = await fetch(pair.node.url('/text'), chunked(text));
    const ours = await fetch(pair.runfcgi.url('/text'), chunked(text));
    expect(ours.status).toBe(node.status);
    expect(node.status).toBe(200);
    const [n, o] = [(await node.json()) as Record<string, string | null>, (await ours.json()) as Record<string, string | null>];
    expect(o.body).toBe(text);
    expect(o.length === null || o.coding === null).toBe(true);
    // HAProxy's FastCGI side buffers a small chunked upload and sends its length; its HTTP side streams it chunked.
    if (name !== 'HAProxy') expect(o).toEqual(n);
  });

  it.runIf(ready)('a chunked upload forwarded by http-proxy-middleware gets 200, as on Node\'s server', async () => {
    const text = 'forwarded upload\n'.repeat(100);
    const node = await fetch(pair.node.url('/forward'), chunked(text));
    const ours = await fetch(pair.runfcgi.url('/forward'), chunked(text));
    expect([ours.status, await ours.text()]).toEqual([node.status, await node.text()]);
    expect(node.status).toBe(200);
  });

  it.runIf(ready)('answers a response with the same status and headers (no Status header passed on)', async () => {
    const node = await fetch(pair.node.url('/hello'));
    const ours = await fetch(pair.runfcgi.url('/hello'));
    expect(ours.status).toBe(200);
    expect(appHeaders(ours.headers)).toEqual(appHeaders(node.headers));
    expect(await ours.text()).toBe(await node.text());
    expect(ours.headers.get('status')).toBeNull();
  });

  it.runIf(ready)('a head over 16 KB gets the status Node\'s server gives (431, unless the front end refuses it first)', async () => {
    const big = ['X-A', 'X-B', 'X-C'].map((h) => `${h}: ${'v'.repeat(6000)}\n`).join('');
    const node = await raw(pair.node, `GET /headers HTTP/1.1\n${big}`);
    const ours = await raw(pair.runfcgi, `GET /headers HTTP/1.1\n${big}`);
    console.log(`${name}: a head of 18 KB: ${node.status} from Node's server, ${ours.status} from runfcgi`);
    expect(ours.status).toBe(node.status);
    if (name !== 'HAProxy') expect(ours.status).toBe(431);
  });

  it.runIf(ready)('a fetch handler sees two Cookie lines joined and a chunked upload whole, as on @hono/node-server', async () => {
    const cookies = 'GET /headers HTTP/1.1\nUser-Agent: test\nAccept-Encoding: gzip\nCookie: a=1\nCookie: b=2\n';
    const [node, ours] = [await raw(fetchPair.node, cookies), await raw(fetchPair.runfcgi, cookies)];
    expect(JSON.parse(ours.body)).toEqual(JSON.parse(node.body));
    expect((JSON.parse(ours.body) as { headers: Record<string, string> }).headers.cookie).toBe('a=1; b=2');
    const text = 'a chunked upload to a fetch handler\n'.repeat(30);
    const upload = (await (await fetch(fetchPair.runfcgi.url('/headers'), chunked(text))).json()) as { headers: Record<string, string>; body: string };
    expect(upload.body).toBe(text);
    expect(upload.headers['content-length'] === undefined || upload.headers['transfer-encoding'] === undefined).toBe(true);
  });
});
