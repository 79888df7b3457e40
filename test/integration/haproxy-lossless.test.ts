// HAProxy multiplexing requests over one FastCGI connection (mpxs-conns): reloads and restarts lose no POST.

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keepLoading, waitFor, type LoadResult } from '../helpers/load.js';
import { freePort, killGroup, need, start, tempDir, waitForListen, which, type Started } from '../helpers/run.js';

const hasHaproxy = need('haproxy');

/** Reads the whole POST body, answers with its length and the app's version. */
function writeApp(file: string, version: string): void {
  fs.writeFileSync(file, `export default (req, res) => {
  let n = 0;
  req.on('data', (d) => { n += d.length; });
  req.on('end', () => res.end('${version} ' + n + '\\n'));
};
`);
}

/** Sends one command to HAProxy's CLI socket; resolves with its answer. */
function cli(socket: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(socket);
    let out = '';
    s.on('data', (d: Buffer) => (out += d.toString()));
    s.on('close', () => resolve(out.trim()));
    s.on('error', reject);
    s.end(`${command}\n`);
  });
}

/**
 * What HAProxy's log says of the requests it answered: how many it failed
 * itself while encoding a request's PARAMS (HAProxy 2.6's fcgi mux fails a
 * stream when its params do not fit in the room left in its output buffer:
 * haproxy/haproxy#3346, fixed upstream by commit 57faf0971, "BUG/MEDIUM:
 * mux-fcgi: Properly handle full buffer for FCGI_PARAM record"); how many
 * 500s with termination state IH (an internal error before the response)
 * it logged; and the log lines of any other answer that was not a 200.
 */
interface HaproxyVerdicts {
  ownParamsErrors: number;
  internal: number;
  others: string[];
}

function verdicts(log: string): HaproxyVerdicts {
  const lines = log.split('\n');
  const ownParamsErrors = lines.filter((l) => l.includes('processing error sending PARAMS record')).length;
  let internal = 0;
  const others: string[] = [];
  for (const line of lines) {
    // ... web fcgi/app Tq/Tw/Tc/Tr/Ta STATUS BYTES - - TERM ...: requests, not the probe that waited for the port.
    const m = / web fcgi\/\S+ [-\d/]+ (-?\d+) \d+ \S+ \S+ (\S{4}) /.exec(line);
    if (m === null || m[1] === '200') continue;
    if (m[1] === '500' && m[2] === 'IH--') internal++;
    else others.push(line);
  }
  return { ownParamsErrors, internal, others };
}

/**
 * HAProxy in front of `sock`, FastCGI with keep-conn and mpxs-conns: many
 * clients' requests at once on few connections (http-reuse always). Its
 * log (one line per request) and its fcgi errors (a trace) go to stderr.
 */
async function startHaproxy(dir: string, sock: string): Promise<{ url: string; verdicts(): HaproxyVerdicts; stop(): Promise<void> }> {
  const port = await freePort();
  const conf = path.join(dir, 'haproxy.cfg');
  const admin = path.join(dir, 'haproxy-admin.sock');
  fs.writeFileSync(conf, `
global
  maxconn 1000
  log stderr format raw local0
  stats socket ${admin} level admin
defaults
  mode http
  log global
  option httplog
  timeout connect 5s
  timeout client 60s
  timeout server 60s
fcgi-app app
  docroot ${dir}
  option keep-conn
  option mpxs-conns
  option max-reqs 32
frontend web
  bind 127.0.0.1:${port}
  default_backend fcgi
backend fcgi
  http-reuse always
  use-fcgi-app app
  server app ${sock} proto fcgi
`);
  const child: ChildProcess = spawn(which('haproxy')!, ['-db', '-f', conf], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let log = '';
  child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  await waitForListen(port);
  await waitForListen(admin);
  // HAProxy 2.6 takes trace settings from its CLI only. Level error: a line per stream its fcgi mux fails.
  for (const command of ['trace fcgi sink stderr', 'trace fcgi level error', 'trace fcgi start now']) {
    const answer = await cli(admin, command);
    if (answer !== '') throw new Error(`haproxy refused "${command}": ${answer}`);
  }
  return {
    url: `http://127.0.0.1:${port}/`,
    verdicts: () => verdicts(log),
    async stop() {
      child.kill('SIGUSR1');
      await new Promise((r) => setTimeout(r, 200));
      killGroup(child.pid!);
      if (log.includes('ALERT')) console.error(log.slice(-2000));
    },
  };
}

const BODY = 'x'.repeat(70_000);

function report(r: LoadResult): string {
  return `${r.failed} of ${r.ok + r.failed} failed: ${[...new Set(r.errors)].slice(0, 5).join('; ')}`;
}

describe.runIf(hasHaproxy)('behind HAProxy with mpxs-conns, prefork', () => {
  let dir: string;
  let sock: string;
  let haproxy: Awaited<ReturnType<typeof startHaproxy>>;
  let server: Started | undefined;

  beforeAll(async () => {
    dir = tempDir();
    sock = path.join(dir, 'app.sock');
    haproxy = await startHaproxy(dir, sock);
  });
  afterAll(async () => {
    await server?.stop('SIGINT');
    await haproxy?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  // Issue 23: the POSTs that still failed were HAProxy's own: its log says IH (an internal error before
  // any response) and its trace "error encoding default params" for each, with no request sent to us (a
  // BEGIN_REQUEST and an ABORT_REQUEST on the wire, nothing between). Every other failure is a loss.
  it('5 SIGHUP reloads on multiplexed connections: no POST lost but those HAProxy 2.6 fails itself', async () => {
    const app = path.join(dir, 'app.mjs');
    writeApp(app, 'v0');
    server = start([`app=${app}`, `socket=${sock}`, 'umask=000', 'minspare=2', 'maxspare=2', 'loglevel=debug']);
    await waitForListen(sock);
    const traffic = keepLoading(haproxy.url, 16, { body: BODY, expect: ` ${BODY.length}` });
    await waitFor(() => traffic.result.ok >= 50, 60_000, '50 POSTs before the first reload');
    for (let v = 1; v <= 5; v++) {
      writeApp(app, `v${v}`);
      server.child.kill('SIGHUP');
      await waitFor(async () => (await (await fetch(haproxy.url, { method: 'POST', body: 'v' })).text()).startsWith(`v${v} `), 60_000, `v${v} served`);
      const served = traffic.result.ok;
      await waitFor(() => traffic.result.ok >= served + 50, 60_000, `50 POSTs after reload ${v}`);
    }
    const r = await traffic.stop();
    const v = haproxy.verdicts();
    console.log(`HAProxy mpxs-conns, 5 reloads: ${r.ok} POSTs answered, ${r.failed} failed; HAProxy failed ${v.ownParamsErrors} streams itself (PARAMS not encoded), logged ${v.internal} internal errors, ${v.others.length} other failures`);
    // Any other failure (a timeout, a closed connection, a 502) is a request lost on our side.
    expect(v.others, report(r)).toEqual([]);
    // Each internal error is one of HAProxy's own PARAMS failures, and each failed POST one of those.
    expect(v.internal, report(r)).toBeLessThanOrEqual(v.ownParamsErrors);
    expect(r.failed, report(r)).toBeLessThanOrEqual(v.internal);
  }, 300_000);
});
