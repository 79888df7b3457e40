// The master and its workers, as processes (prefork) and as threads (threaded), behind real nginx.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cgiFcgi } from '../helpers/cgi-fcgi.js';
import { parseCgi, request, stdoutOf } from '../helpers/fcgi-records.js';
import { keepLoading, load, waitFor } from '../helpers/load.js';
import { expectPeaksWithin, retiredPeaks } from '../helpers/maxmemory.js';
import { nginxInFront, type Nginx } from '../helpers/nginx.js';
import { children, running } from '../helpers/processes.js';
import { FIXTURES, need, runSync, start, tempDir, waitForListen, type Started } from '../helpers/run.js';

const CONTROL = path.join(FIXTURES, 'control-app.mjs');
const hasNginx = need('nginx');

/** Log lines with this message. */
function lines(s: Started, msg: string): Record<string, unknown>[] {
  return s.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === msg);
}

/**
 * A request on a connection of its own, straight to the socket: `started`
 * resolves once the app has begun to answer (its first bytes are back),
 * `body` with the whole body once the connection ends.
 */
function inFlight(sock: string, uri: string): { started: Promise<void>; body: Promise<string> } {
  const c = net.connect(sock, () => c.write(request(1, { REQUEST_METHOD: 'GET', REQUEST_URI: uri }, '', false)));
  const out: Buffer[] = [];
  let began: () => void;
  const started = new Promise<void>((r) => (began = r));
  c.on('data', (d: Buffer) => {
    out.push(d);
    if (stdoutOf(Buffer.concat(out)).length > 0) began();
  });
  c.on('error', () => {});
  const body = new Promise<string>((r) => c.on('close', () => r(parseCgi(stdoutOf(Buffer.concat(out))).body.toString())));
  return { started, body };
}

function title(pid: number): string {
  return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0+$/, '').replace(/\0/g, ' ');
}

describe.each(['prefork', 'threaded'] as const)('method=%s', (method) => {
  let dir: string;
  let sock: string;
  let nginx: Nginx;
  let server: Started | undefined;

  beforeAll(async () => {
    dir = tempDir();
    sock = path.join(dir, 'app.sock');
    if (hasNginx) {
      // /fresh/: a new connection per request, straight to the socket.
      nginx = await nginxInFront(dir, `unix:${sock}`, { server: `location /fresh/ { include /etc/nginx/fastcgi_params; fastcgi_pass unix:${sock}; }` });
    }
  });
  afterAll(async () => {
    await nginx?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  afterEach(async () => {
    // SIGQUIT: at once, yet closing connections, so nginx finds no dead ones in its cache.
    await server?.stop('SIGQUIT');
    server = undefined;
  });

  async function boot(...args: string[]): Promise<Started> {
    server = start([`app=${CONTROL}`, `socket=${sock}`, `method=${method}`, 'umask=000', ...args]);
    await waitForListen(sock);
    await waitFor(() => lines(server!, 'runfcgi is listening').length > 0, 30_000, 'listening');
    return server;
  }

  it(method === 'prefork' ? 'runs a master plus worker processes with recognisable titles' : 'runs as one OS process', async () => {
    // maxchildren=2 here and below: on a busy machine every event loop lags, and the pool would grow.
    const s = await boot('minspare=2', 'maxspare=2', 'maxchildren=2');
    await waitFor(() => lines(s, 'worker ready').length === 2, 30_000, 'two workers');
    const pid = s.child.pid!;
    if (method === 'prefork') {
      expect(title(pid)).toBe('runfcgi: master');
      const kids = children(pid);
      expect(kids).toHaveLength(2);
      expect(kids.map(title).sort()).toEqual(['runfcgi: worker 1', 'runfcgi: worker 2']);
    } else {
      expect(children(pid)).toEqual([]);
      const who = new Set<string>();
      for (let i = 0; i < 40; i++) who.add((await cgiFcgi(sock, { REQUEST_URI: '/who' })).body.toString().trim());
      expect([...who].every((w) => w.startsWith(`${pid}:`))).toBe(true);
    }
  });

  it.runIf(hasNginx)('serves many concurrent requests through nginx', async () => {
    await boot();
    const r = await load(nginx.url('/hello'), 1000, 50);
    expect(r).toEqual({ ok: 1000, failed: 0, errors: [] });
  });

  it.runIf(hasNginx)('a handler that blocks its worker does not stall other requests: the pool grows, then shrinks back', async () => {
    const s = await boot('minspare=1', 'maxspare=1', 'maxchildren=3');
    await waitFor(() => lines(s, 'worker ready').length === 1, 30_000, 'one worker');
    const blocked = fetch(nginx.url('/fresh/block?ms=8000')).then(() => Date.now());
    // The pool grows once the master sees its only worker busy: the block has reached it.
    await waitFor(() => lines(s, 'worker ready').length >= 2, 30_000, 'the pool to grow');
    const other = await fetch(nginx.url('/fresh/hello'));
    const otherDone = Date.now();
    expect(other.status).toBe(200);
    expect(otherDone).toBeLessThan(await blocked);
    // Once idle again, spare workers beyond maxspare=1 are stopped.
    await waitFor(() => lines(s, 'more spare workers than maxspare: stopping one').length >= 1, 30_000, 'shrink');
  });

  it('replaces a worker that dies, logging its exit', async () => {
    const s = await boot('minspare=1', 'maxspare=1');
    await cgiFcgi(sock, { REQUEST_URI: '/crash' }).catch(() => undefined);
    await waitFor(() => lines(s, 'worker died').length === 1, 30_000, 'death logged');
    expect(lines(s, 'worker died')[0]).toMatchObject({ code: 1 });
    await waitFor(() => lines(s, 'worker ready').length === 2, 30_000, 'replacement');
    expect((await cgiFcgi(sock, { REQUEST_URI: '/hello' })).body.toString()).toBe('hello\n');
  });

  it.each(['/throw', '/reject'])('an app that fails while handling a request (%s) answers 500, and its worker carries on', async (route) => {
    const s = await boot('minspare=1', 'maxspare=1');
    await waitFor(() => lines(s, 'worker ready').length === 1, 30_000, 'one worker');
    const before = (await cgiFcgi(sock, { REQUEST_URI: '/who' })).body.toString();
    const failed = await cgiFcgi(sock, { REQUEST_URI: route });
    expect(failed.status).toBe(500);
    expect(failed.body.toString()).toBe('Internal Server Error\n');
    expect(lines(s, 'application error')).toHaveLength(1);
    expect((await cgiFcgi(sock, { REQUEST_URI: '/who' })).body.toString()).toBe(before);
  });

  it.each(['/throw-later', '/reject-later'])('an error the app raises outside a request (%s) retires the worker after the requests in progress', async (route) => {
    const s = await boot('minspare=1', 'maxspare=1');
    await waitFor(() => lines(s, 'worker ready').length === 1, 30_000, 'one worker');
    const slow = inFlight(sock, '/slow-stream?ms=1500');
    await slow.started;
    expect((await cgiFcgi(sock, { REQUEST_URI: route })).status).toBe(200);
    await waitFor(() => lines(s, 'the app threw outside a request: retiring after the requests in progress').length === 1, 30_000, 'the log line');
    // The request in progress on that worker still gets its whole answer.
    expect(await slow.body).toBe('started\nslow 1500\n');
    await waitFor(() => lines(s, 'worker ready').length === 2, 30_000, 'a replacement');
    expect(lines(s, 'worker died')).toEqual([]);
    expect((await cgiFcgi(sock, { REQUEST_URI: '/hello' })).body.toString()).toBe('hello\n');
  });

  it.runIf(hasNginx)('maxmemory= replaces a worker keeping 4 MB a request within 10% of the limit, without a failed request', async () => {
    const s = await boot('maxmemory=256', 'minspare=2', 'maxspare=2', 'maxchildren=4');
    // Every page of what it keeps is written: a worker passes 256 MB within 50-odd requests. GETs: a retiring
    // thread closes its kept-alive connections between requests (lossless.test.ts has the POSTs, for processes).
    // 4 at once: a worker may go past the limit by what the requests it had begun keep (up to 4 x 4 MB
    // here, 6%; 8 at once all on one thread would be 12.5%), and the bound is the test's.
    const loading = keepLoading(nginx.url('/leak?mb=4'), 4);
    // Counted from the log, not from the clock: each says its peak once its requests are done.
    await waitFor(() => retiredPeaks(s.output()).length >= 6, 150_000, 'six workers retired and gone');
    const r = await loading.stop();
    expect(r).toMatchObject({ failed: 0, errors: [] });
    expect(lines(s, 'maxmemory exceeded: retiring after the requests in progress')[0]).toMatchObject({ maxmemory: 256 });
    expect(lines(s, 'worker died')).toEqual([]);
    expectPeaksWithin(s.output(), 256, `method=${method}, 4 MB a request, 4 GETs at once through nginx`);
  });

  // A thread cannot be SIGKILLed on its own: this one is for worker processes.
  if (method === 'prefork') it.runIf(hasNginx)('a worker SIGKILLed under load loses only what it had in hand; a replacement takes over', async () => {
    const s = await boot('minspare=2', 'maxspare=2', 'maxchildren=2');
    await waitFor(() => lines(s, 'worker ready').length === 2, 30_000, 'two workers');
    const loading = keepLoading(nginx.url('/slow?ms=20'), 8);
    // Counted in requests, not in time: 25 answered before the kill, 25 more once the replacement is ready.
    await waitFor(() => loading.result.ok >= 25, 30_000, '25 requests before the kill');
    const [victim] = children(s.child.pid!);
    process.kill(victim!, 'SIGKILL');
    await waitFor(() => lines(s, 'worker ready').length === 3, 30_000, 'a replacement');
    const replaced = loading.result.ok;
    await waitFor(() => loading.result.ok >= replaced + 25, 30_000, '25 requests after the replacement');
    const during = await loading.stop();
    // What the killed worker had in hand is lost (nginx answers 502): at most the 8 in flight.
    expect(during.failed).toBeLessThanOrEqual(8);
    expect(during.ok).toBeGreaterThan(50);
    expect(lines(s, 'worker died')).toMatchObject([{ workerPid: victim, signal: 'SIGKILL', pid: s.child.pid }]);
    // One "pid" key per line (the master's): JSON tools keep only one of two.
    const raw = s.output().split('\n').filter((l) => l.includes('"worker died"') || l.includes('"worker starting"'));
    expect(raw.length).toBeGreaterThan(1);
    for (const line of raw) expect(line.match(/"pid":/g)).toHaveLength(1);
    expect(await load(nginx.url('/hello'), 300, 8)).toEqual({ ok: 300, failed: 0, errors: [] });
  });

  it.runIf(hasNginx)('maxrequests replaces workers with jitter and no failed request', async () => {
    const s = await boot('maxrequests=100', 'minspare=2', 'maxspare=2');
    const r = await load(nginx.url('/hello'), 1500, 8);
    expect(r).toEqual({ ok: 1500, failed: 0, errors: [] });
    expect(lines(s, 'maxrequests reached: retiring after the requests in progress').length).toBeGreaterThanOrEqual(5);
  });

  it.runIf(hasNginx)('a graceful stop under load loses no request in flight', async () => {
    const s = await boot();
    // nginx passes the answer's head on at once: when all 20 heads are in, all 20 are in the app's hands.
    const heads = await Promise.all(Array.from({ length: 20 }, () => fetch(nginx.url('/slow-stream?ms=1500'))));
    const exit = s.stop('SIGTERM');
    const answers = await Promise.all(heads.map(async (r) => `${r.status} ${await r.text().catch(() => 'cut short')}`));
    expect(answers).toEqual(Array(20).fill('200 started\nslow 1500\n'));
    expect(await exit).toBe(0);
    expect(fs.existsSync(sock)).toBe(false);
  });

  it('a second SIGINT stops at once', async () => {
    const s = await boot();
    const slow = inFlight(sock, '/slow-stream?ms=20000');
    await slow.started;
    s.child.kill('SIGINT');
    await waitFor(() => lines(s, 'stopping gracefully').length === 1, 30_000, 'the graceful stop');
    const t0 = Date.now();
    s.child.kill('SIGINT');
    await new Promise((r) => s.child.once('exit', r));
    // At once: long before the 20 s request would have let a graceful stop end (loose: the machine may be busy).
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(lines(s, 'stopping now')).toHaveLength(1);
  });

  it('SIGKILL of the master leaves no process behind', async () => {
    const s = await boot();
    await waitFor(() => lines(s, 'worker ready').length >= 2, 30_000, 'workers');
    const master = s.child.pid!;
    const workers = [...new Set(lines(s, 'worker starting').map((l) => l.workerPid as number))];
    if (method === 'prefork') {
      // Processes of their own, which must notice the master's loss and end.
      expect(workers).not.toContain(master);
      expect(children(master).length).toBeGreaterThan(0);
    } else {
      // Threads: nothing runs outside the master's process, so its end is the end of all.
      expect(workers).toEqual([master]);
      expect(children(master)).toEqual([]);
    }
    s.child.kill('SIGKILL');
    await waitFor(() => ![master, ...workers].some(running), 30_000, 'the master and its workers gone');
  });

  it('SIGTTIN adds a worker and SIGTTOU removes one', async () => {
    const s = await boot('minspare=1', 'maxspare=1', 'maxchildren=4');
    await waitFor(() => lines(s, 'worker ready').length === 1, 30_000, 'one worker');
    s.child.kill('SIGTTIN');
    // At least: on a busy machine the pool may also grow (and shrink) on its own, as event loops lag.
    await waitFor(() => lines(s, 'one worker more').length === 1 && lines(s, 'worker ready').length >= 2, 30_000, 'a second worker');
    const stopped = lines(s, 'more spare workers than maxspare: stopping one').length;
    s.child.kill('SIGTTOU');
    await waitFor(() => lines(s, 'one worker fewer').length === 1 && lines(s, 'more spare workers than maxspare: stopping one').length > stopped, 30_000, 'one fewer');
  });

  it('an app that fails to load stops the master with exit code 4 and the error', () => {
    const r = runSync(['daemonize=false', `method=${method}`, `socket=${path.join(dir, 'x.sock')}`, `app=${path.join(FIXTURES, 'throws-at-load.mjs')}`]);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/^runfcgi: app=.*throws-at-load\.mjs failed to load: Error: database password missing/m);
    expect(fs.existsSync(path.join(dir, 'x.sock'))).toBe(false);
  });

  it('a worker that cannot boot stops the master with exit code 3', () => {
    const r = runSync(['daemonize=false', `method=${method}`, `socket=${path.join(dir, 'y.sock')}`, `app=${path.join(FIXTURES, 'exits-at-load.mjs')}`]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^runfcgi: worker \d+ exited before it could serve \(code 7/m);
  });

  it('backs off when workers keep dying instead of spinning', async () => {
    const marks = tempDir();
    server = start([`app=${path.join(FIXTURES, 'dies-soon.mjs')}`, `socket=${sock}`, `method=${method}`, 'minspare=1', 'maxspare=1', `env=DIES_SOON_DIR=${marks}`]);
    const s = server;
    // Past the start: from now on every worker dies soon after its app loads.
    await waitFor(() => lines(s, 'worker ready').length >= 1, 120_000, 'the first worker ready');
    fs.writeFileSync(path.join(marks, 'go'), '');
    await waitFor(() => lines(s, 'worker failed before it could serve: backing off').length >= 3, 120_000, 'backoff');
    const backoffs = lines(s, 'worker failed before it could serve: backing off').map((l) => l.backoffMs as number);
    expect(backoffs[2]).toBeGreaterThan(backoffs[0]!);
    fs.rmSync(marks, { recursive: true, force: true });
  });

  it.runIf(need('tmux'))('Ctrl+C in a real terminal stops cleanly and removes the socket', async () => {
    const session = `runfcgi-${process.pid}-${method}`;
    const bin = path.resolve('bin/runfcgi');
    execFileSync('tmux', ['new-session', '-d', '-s', session, '-x', '120', '-y', '20', `${process.execPath} ${bin} daemonize=false method=${method} socket=${sock} app=${CONTROL}; echo EXIT=$?; sleep 30`]);
    try {
      await waitForListen(sock);
      await waitFor(async () => (await cgiFcgi(sock, { REQUEST_URI: '/hello' })).status === 200, 30_000, 'answer');
      execFileSync('tmux', ['send-keys', '-t', session, 'C-c']);
      await waitFor(() => execFileSync('tmux', ['capture-pane', '-p', '-t', session], { encoding: 'utf8' }).includes('EXIT=0'), 30_000, 'EXIT=0 on the screen');
      expect(fs.existsSync(sock)).toBe(false);
    } finally {
      execFileSync('tmux', ['kill-session', '-t', session]);
    }
  });
});
