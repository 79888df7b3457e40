#!/usr/bin/env node
// The per-request JavaScript path without sockets or a web server: FastCGI bytes in, records out.
//   npm run build && node scripts/bench/micro.mjs [APP] [REQUESTS] [STICKY]
// STICKY: 'off-cookie' (a Cookie header, sticky off), 'new' (sticky=true, no cookie: each answer sets one)
// or 'own' (sticky=true, a route cookie naming this worker): the routing's cost, without the hand-over.
// Prints ns per request: the least of 7 runs (the one least disturbed) and their median, in
// wall-clock time and in CPU time of this process (user + system: steadier on a loaded machine).
// A guide for profiling, not a benchmark of record.
import { EventEmitter } from 'node:events';
import { loadApp } from '../../dist/adapter/load.js';
import { encodeParams, encodeRecord } from '../../dist/protocol/fcgi/codec.js';
import { createLogger } from '../../dist/shared/log.js';
import { serve } from '../../dist/worker/serve.js';
import { Router } from '../../dist/worker/sticky/router.js';

const [app = new URL('./peers/hello.mjs', import.meta.url).pathname, total = '200000', sticky] = process.argv.slice(2);
const ROUTES = { dir: '/nonexistent', mark: 'abcd0123' };
const CONNECTIONS = 32;

/** What nginx sends for `wrk http://127.0.0.1:8080/` with the stock fastcgi_params. */
const PARAMS = {
  QUERY_STRING: '', REQUEST_METHOD: 'GET', CONTENT_TYPE: '', CONTENT_LENGTH: '', SCRIPT_NAME: '/', REQUEST_URI: '/',
  DOCUMENT_URI: '/', DOCUMENT_ROOT: '/usr/share/nginx/html', SERVER_PROTOCOL: 'HTTP/1.1', REQUEST_SCHEME: 'http',
  GATEWAY_INTERFACE: 'CGI/1.1', SERVER_SOFTWARE: 'nginx/1.22.1', REMOTE_ADDR: '127.0.0.1', REMOTE_PORT: '51234',
  SERVER_ADDR: '127.0.0.1', SERVER_PORT: '8080', SERVER_NAME: '', REDIRECT_STATUS: '200', HTTP_HOST: '127.0.0.1:8080',
};
if (sticky === 'off-cookie' || sticky === 'new') PARAMS.HTTP_COOKIE = 'session=s%3Aabcdef0123456789; theme=dark';
if (sticky === 'own') PARAMS.HTTP_COOKIE = 'session=s%3Aabcdef0123456789; theme=dark; runfcgi_route=abcd0123.1';
const begin = Buffer.from([0, 1, 1, 0, 0, 0, 0, 0]);
const request = Buffer.concat([
  encodeRecord(1, 1, begin), encodeRecord(4, 1, encodeParams(Object.entries(PARAMS))), encodeRecord(4, 1), encodeRecord(5, 1),
]);

/** The least of net.Socket that a connection uses; writes are counted, not sent. */
class FakeSocket extends EventEmitter {
  destroyed = false;
  writableNeedDrain = false;
  bytes = 0;
  write(b) { this.bytes += b.length; return true; }
  cork() {}
  uncork() {}
  pause() {}
  resume() {}
  end() {}
  destroy() { this.destroyed = true; }
}

const log = createLogger({}, 'warn');
const handler = await loadApp(app, { debug: false, log }, process.cwd());
const server = new EventEmitter();
const router = sticky === 'new' || sticky === 'own' ? new Router(ROUTES, 1, 'runfcgi_route', 'fcgi') : undefined;
serve(server, handler, log, { router });
const sockets = Array.from({ length: CONNECTIONS }, () => {
  const s = new FakeSocket();
  server.emit('connection', s);
  return s;
});

const cpu = [];

async function run(n) {
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  for (let done = 0; done < n; done += CONNECTIONS) {
    for (const s of sockets) s.emit('data', request);
    await new Promise(setImmediate);
  }
  const c = process.cpuUsage(c0);
  cpu.push(((c.user + c.system) * 1000) / n);
  return Number(process.hrtime.bigint() - t0) / n;
}

await run(50_000); // warm up
cpu.length = 0;
const runs = [];
for (let i = 0; i < 7; i++) runs.push(await run(Number(total)));
runs.sort((a, b) => a - b);
console.log(`${Math.round(runs[0])} ns per request at least, ${Math.round(runs[3])} median (runs: ${runs.map(Math.round).join(', ')})`);
cpu.sort((a, b) => a - b);
console.log(`CPU: ${Math.round(cpu[0])} ns per request at least, ${Math.round(cpu[3])} median`);
