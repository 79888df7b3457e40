// Real Caddy and HAProxy on loopback (configs of the test's own, in a temp directory), as front
// ends for the differential suite and the recipes, and a POST load that checks every answer.

import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { FrontEnd, StartFrontEnd } from './differential.js';
import { keepGoing, type LoadResult } from './load.js';
import { freePort, waitForListen, which } from './run.js';
import { runServer, type WebServer } from './servers.js';

/**
 * Caddy with `sites` (Caddyfile site blocks) after a global block that keeps
 * it to what the test asked for: no admin endpoint (two Caddys would share
 * its port), no automatic HTTPS; its data and config under `dir`.
 */
export async function startCaddy(dir: string, sites: (port: number) => string): Promise<WebServer> {
  const port = await freePort();
  const prefix = path.join(dir, 'caddy');
  fs.mkdirSync(prefix, { recursive: true });
  const file = path.join(prefix, 'Caddyfile');
  fs.writeFileSync(file, `{\n\tadmin off\n\tauto_https off\n}\n${sites(port)}\n`);
  const env = { HOME: prefix, XDG_DATA_HOME: path.join(prefix, 'data'), XDG_CONFIG_HOME: path.join(prefix, 'config') };
  return runServer(which('caddy')!, ['run', '--config', file, '--adapter', 'caddyfile'], port, path.join(prefix, 'none.log'), 'SIGTERM', env);
}

/** HAProxy in the foreground (-db) with `config(port)`, its log on standard error. */
export async function startHaproxy(dir: string, config: (port: number) => string): Promise<WebServer> {
  const port = await freePort();
  const prefix = path.join(dir, 'haproxy');
  fs.mkdirSync(prefix, { recursive: true });
  const file = path.join(prefix, 'haproxy.cfg');
  fs.writeFileSync(file, `${config(port)}\n`);
  return runServer(which('haproxy')!, ['-f', file, '-db'], port, path.join(prefix, 'none.log'), 'SIGTERM');
}

/** The settings both HAProxy configs of the differential suite share. */
const HAPROXY_DEFAULTS = `defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s`;

/** Caddy: reverse_proxy to Node's server over HTTP, and reverse_proxy with transport fastcgi to runfcgi. */
export const caddyFront: StartFrontEnd = async (dir, nodePort, sock): Promise<FrontEnd> => {
  const fcgiPort = await freePort();
  const caddy = await startCaddy(dir, (port) => `
http://127.0.0.1:${port} {
  reverse_proxy 127.0.0.1:${nodePort}
}
http://127.0.0.1:${fcgiPort} {
  reverse_proxy unix/${sock} {
    transport fastcgi
    flush_interval -1
  }
}`);
  await waitForListen(fcgiPort);
  return { port: caddy.port, fcgiPort, stop: () => caddy.stop() };
};

/** HAProxy: a backend of Node's server over HTTP, and one of runfcgi with the recipe's fcgi-app options. */
export const haproxyFront: StartFrontEnd = async (dir, nodePort, sock): Promise<FrontEnd> => {
  const fcgiPort = await freePort();
  const haproxy = await startHaproxy(dir, (port) => `${HAPROXY_DEFAULTS}
fcgi-app runfcgi
  docroot ${dir}
  option keep-conn
  option mpxs-conns
  option get-values
frontend node
  bind 127.0.0.1:${port}
  default_backend node
frontend fcgi
  bind 127.0.0.1:${fcgiPort}
  default_backend fcgi
backend node
  server node 127.0.0.1:${nodePort}
backend fcgi
  use-fcgi-app runfcgi
  server app ${sock} proto fcgi`);
  await waitForListen(fcgiPort);
  return { port: haproxy.port, fcgiPort, stop: () => haproxy.stop() };
};

/**
 * Keeps POSTing bodies of 1-64 KB to `url` (an app that answers "LENGTH SHA256",
 * test/fixtures/echo-body.mjs at /whole) until stopped. An answer that is not
 * 200 with the body's own length and hash, or no answer, is a failure: a
 * POST is never retried by a front end, so a lost one shows.
 */
export function keepPosting(url: string, concurrency: number): { result: LoadResult; stop(): Promise<LoadResult> } {
  return keepGoing(concurrency, async (result) => {
    const body = randomBytes(1024 + Math.floor(Math.random() * 63 * 1024));
    const expected = `${body.length} ${createHash('sha256').update(body).digest('hex')}\n`;
    try {
      const res = await fetch(url, { method: 'POST', body, signal: AbortSignal.timeout(60_000) });
      const text = await res.text();
      if (res.status === 200 && text === expected) {
        result.ok++;
        return;
      }
      result.errors.push(`status ${res.status}: ${text.slice(0, 100)}`);
    } catch (error) {
      // fetch's own message is "fetch failed": what happened is in the cause.
      const cause = (error as Error).cause as { code?: string; message?: string } | undefined;
      result.errors.push(`${String(error)}${cause ? ` (${cause.code ?? cause.message})` : ''}`);
    }
    result.failed++;
  });
}
