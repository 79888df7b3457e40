// Operations behind real nginx: reloads under load, timeouts, status and ping, logs and their
// rotation, socket permissions, users, the workers' environment.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cgiFcgi } from '../helpers/cgi-fcgi.js';
import { keepLoading, waitFor } from '../helpers/load.js';
import { nginxInFront, type Nginx } from '../helpers/nginx.js';
import { installProject, needNodeForWwwData } from '../helpers/project.js';
import { FIXTURES, freePort, need, needRoot, start, tempDir, waitForListen, which, type Started } from '../helpers/run.js';

const CONTROL = path.join(FIXTURES, 'control-app.mjs');
const asRoot = needRoot('the tests that start runfcgi as root (socket owner, user=)');

function jsonLines(text: string): Record<string, unknown>[] {
  return text.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe.runIf(need('nginx'))('operations', () => {
  let dir: string;
  let sock: string;
  let nginx: Nginx;
  let server: Started | undefined;

  beforeAll(async () => {
    dir = tempDir();
    sock = path.join(dir, 'app.sock');
    nginx = await nginxInFront(dir, `unix:${sock}`, { location: 'fastcgi_read_timeout 30s;' });
  });
  afterAll(async () => {
    await nginx?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  afterEach(async () => {
    await server?.stop('SIGINT');
    server = undefined;
  });

  async function boot(...args: string[]): Promise<Started> {
    server = start([`app=${CONTROL}`, `socket=${sock}`, 'umask=000', ...args]);
    await waitForListen(sock);
    await waitFor(() => jsonLines(server!.output()).some((l) => l.msg === 'runfcgi is listening'), 30_000, 'listening');
    return server;
  }

  it.each(['prefork', 'threaded'])('10 reloads (SIGHUP) under continuous load fail no request (%s)', async (method) => {
    const s = await boot(`method=${method}`);
    const traffic = keepLoading(nginx.url('/hello'), 6);
    for (let i = 0; i < 10; i++) {
      s.child.kill('SIGHUP');
      await waitFor(() => jsonLines(s.output()).filter((l) => l.msg === 'worker stopped').length >= 2 * (i + 1), 30_000, `reload ${i + 1}`);
    }
    const r = await traffic.stop();
    console.log(`10 reloads under load (${method}): ${r.ok} requests answered, ${r.failed} failed`);
    expect(r.errors).toEqual([]);
    expect(r.ok).toBeGreaterThan(100);
  });

  it('timeout= ends a request that runs too long with a 504, logs method and URI, and the worker carries on', async () => {
    // maxchildren=1: on a busy machine the pool would add a worker; the one must carry on alone.
    const s = await boot('timeout=1', 'minspare=1', 'maxspare=1', 'maxchildren=1');
    const slow = await fetch(nginx.url('/slow?ms=4000'));
    expect(slow.status).toBe(504);
    // The worker's log line comes through a pipe of its own: it may trail the answer.
    await waitFor(() => jsonLines(s.output()).some((l) => l.msg === 'request timed out: ended'), 30_000, 'the log line');
    expect(jsonLines(s.output()).find((l) => l.msg === 'request timed out: ended')).toMatchObject({ method: 'GET', uri: '/slow?ms=4000' });
    expect(await (await fetch(nginx.url('/hello'))).text()).toBe('hello\n');
    expect(jsonLines(s.output()).filter((l) => l.msg === 'worker starting')).toHaveLength(1);
  });

  it('timeout= replaces a worker whose event loop is blocked; only its request fails', async () => {
    const s = await boot('timeout=1', 'minspare=2', 'maxspare=2');
    // Blocked far longer than the watchdog needs, however busy the machine: it ends when the worker is replaced.
    const blocked = fetch(nginx.url('/block?ms=30000')).then((r) => r.status);
    await waitFor(() => jsonLines(s.output()).some((l) => l.msg === 'worker stuck (event loop blocked): replacing it'), 30_000, 'stuck worker replaced');
    expect(await blocked).toBe(502);
    expect(await (await fetch(nginx.url('/hello'))).text()).toBe('hello\n');
  });

  it('answers the status and ping paths itself, in text, JSON, OpenMetrics and with ?full', async () => {
    // maxchildren=2: on a busy machine the pool would grow as event loops lag, and the page would count more.
    await boot('status=/fpm-status', 'ping=/ping', 'pingresponse=alive', 'minspare=2', 'maxspare=2', 'maxchildren=2');
    for (let i = 0; i < 20; i++) await fetch(nginx.url('/hello'));
    // The counts come with the workers' heartbeats (every 0.1 s): wait for them, not for the clock.
    const accepted = async (): Promise<number> => ((await (await fetch(nginx.url('/fpm-status?json'))).json()) as { acceptedRequests: number }).acceptedRequests;
    await waitFor(async () => (await accepted()) >= 20, 30_000, 'the 20 requests in the counts');
    expect(await (await fetch(nginx.url('/ping'))).text()).toBe('alive\n');
    const text = await (await fetch(nginx.url('/fpm-status'))).text();
    expect(text).toMatch(/^pool:\s+unix:/m);
    expect(text).toMatch(/^total workers:\s+2$/m);
    const json = (await (await fetch(nginx.url('/fpm-status?json&full'))).json()) as { acceptedRequests: number; totalWorkers: number; workers: unknown[] };
    expect(json.totalWorkers).toBe(2);
    expect(json.acceptedRequests).toBeGreaterThanOrEqual(20);
    expect(json.workers).toHaveLength(2);
    const metrics = await fetch(nginx.url('/fpm-status?openmetrics'));
    expect(metrics.headers.get('content-type')).toMatch(/^application\/openmetrics-text/);
    const body = await metrics.text();
    expect(body).toMatch(/^runfcgi_accepted_requests_total \d+$/m);
    expect(body.endsWith('# EOF\n')).toBe(true);
  });

  it('reports the TCP listen queue on the status page', async () => {
    const port = await freePort();
    server = start([`app=${CONTROL}`, 'host=127.0.0.1', `port=${port}`, 'status=/status']);
    await waitForListen(port);
    const r = await cgiFcgi(`127.0.0.1:${port}`, { REQUEST_URI: '/status?json' });
    expect((JSON.parse(r.body.toString()) as { listenQueue: number }).listenQueue).toBe(0);
  });

  it('writes an access log, keeps every line across a logrotate rename and SIGUSR1, and honours loglevel', async () => {
    const errlog = path.join(dir, 'runfcgi.log');
    const access = path.join(dir, 'access.log');
    // One worker: a probe request shows when it has reopened (below).
    const s = start([`app=${CONTROL}`, `socket=${sock}`, 'umask=000', `errlog=${errlog}`, `accesslog=${access}`, 'loglevel=info', 'minspare=1', 'maxspare=1']);
    server = s;
    await waitForListen(sock);
    // The log goes to errlog=, not to standard error.
    await waitFor(() => fs.existsSync(errlog) && fs.readFileSync(errlog, 'utf8').includes('runfcgi is listening'), 30_000, 'listening, in errlog');
    expect(s.output()).toBe('');
    for (let i = 0; i < 10; i++) await fetch(nginx.url(`/hello?before=${i}`));
    fs.renameSync(access, `${access}.1`);
    fs.renameSync(errlog, `${errlog}.1`);
    s.child.kill('SIGUSR1');
    await waitFor(() => fs.existsSync(errlog) && fs.readFileSync(errlog, 'utf8').includes('log files reopened'), 30_000, 'reopened');
    // The worker reopens when the master's word reaches it: once a probe lands in the new file, it has.
    const uris = (file: string): string[] => (fs.existsSync(file) ? jsonLines(fs.readFileSync(file, 'utf8')).map((l) => String(l.uri)) : []);
    let probes = 0;
    await waitFor(async () => {
      await fetch(nginx.url(`/hello?probe=${probes++}`));
      return uris(access).some((u) => u.includes('probe='));
    }, 30_000, 'a probe in the new access log');
    for (let i = 0; i < 10; i++) await fetch(nginx.url(`/hello?after=${i}`));
    await waitFor(() => uris(access).filter((u) => u.includes('after=')).length === 10, 30_000, 'the 10 lines in the new access log');
    const notProbe = (u: string): boolean => !u.includes('probe=');
    expect(uris(`${access}.1`).filter(notProbe)).toEqual(Array.from({ length: 10 }, (_, i) => `/hello?before=${i}`));
    expect(uris(access).filter(notProbe)).toEqual(Array.from({ length: 10 }, (_, i) => `/hello?after=${i}`));
    // Not a line lost across the rename: every probe is in one file or the other.
    expect([...uris(`${access}.1`), ...uris(access)].filter((u) => !notProbe(u)).sort()).toEqual(Array.from({ length: probes }, (_, i) => `/hello?probe=${i}`).sort());
    const after = jsonLines(fs.readFileSync(access, 'utf8'));
    expect(after[0]).toMatchObject({ method: 'GET', status: 200, bytes: expect.any(Number), ms: expect.any(Number), worker: expect.any(Number) });
    expect(fs.readFileSync(`${errlog}.1`, 'utf8')).toContain('runfcgi is listening');
  });

  it('loglevel=warn leaves out the info lines', async () => {
    const s = start([`app=${CONTROL}`, `socket=${sock}`, 'loglevel=warn']);
    server = s;
    await waitForListen(sock);
    // Once a request is answered the start is over, and what it would have logged at info is out.
    await waitFor(async () => (await cgiFcgi(sock, { REQUEST_URI: '/hello' })).status === 200, 30_000, 'an answer');
    expect(jsonLines(s.output()).filter((l) => l.level === 30)).toEqual([]);
  });

  it('gives the workers a clean environment plus env=', async () => {
    server = start([`app=${CONTROL}`, `socket=${sock}`, 'env=GREETING=hi', 'env=PASSED'], { env: { ...process.env, PASSED: 'yes', SECRET_TOKEN: 'x' } });
    await waitForListen(sock);
    const env = JSON.parse((await cgiFcgi(sock, { REQUEST_URI: '/env' })).body.toString()) as Record<string, string>;
    expect(env).toMatchObject({ GREETING: 'hi', PASSED: 'yes' });
    expect(env.SECRET_TOKEN).toBeUndefined();
    expect(env.PATH).toBe(process.env.PATH);
  });

  it.runIf(asRoot)('socketmode=, socketowner= and socketgroup= set who may connect', async () => {
    await boot('socketmode=0660', 'socketowner=www-data', 'socketgroup=www-data');
    const st = fs.statSync(sock);
    expect(st.mode & 0o777).toBe(0o660);
    expect([st.uid, st.gid]).toEqual([33, 33]);
  });

  it.runIf(asRoot && need('cgi-fcgi') && needNodeForWwwData())('started as root with user=www-data: workers run as www-data, and www-data can use the socket', async () => {
    // The workers load runfcgi and the app as www-data: from a project it can read, not the checkout.
    const project = installProject(path.join(dir, 'project'), CONTROL, 'app.mjs');
    server = start(['app=./app.mjs', `socket=${sock}`, 'umask=000', 'user=www-data', 'socketowner=www-data', 'socketmode=0600', 'minspare=2', 'maxspare=2'], { cwd: project.dir }, project.bin);
    const s = server;
    await waitForListen(sock);
    await waitFor(() => jsonLines(s.output()).filter((l) => l.msg === 'worker ready').length === 2, 30_000, 'two workers ready');
    const workers = jsonLines(s.output()).filter((l) => l.msg === 'worker starting').map((l) => l.workerPid as number);
    for (const pid of workers) expect(fs.statSync(`/proc/${pid}`).uid).toBe(33);
    expect(fs.statSync(`/proc/${s.child.pid}`).uid).toBe(0);
    const asWwwData = spawnSync(which('cgi-fcgi')!, ['-bind', '-connect', sock], { uid: 33, gid: 33, env: { REQUEST_METHOD: 'GET', REQUEST_URI: '/hello' }, encoding: 'utf8' });
    expect(asWwwData.stdout).toContain('hello');
    const env = JSON.parse((await cgiFcgi(sock, { REQUEST_URI: '/env' })).body.toString()) as Record<string, string>;
    expect(env.USER).toBe('www-data');
  });

  it.runIf(asRoot)('a root start without user= warns that the workers run as root', async () => {
    const s = await boot();
    // Said once serving, after 'runfcgi is listening', maybe in a later write: wait for it.
    await waitFor(() => jsonLines(s.output()).some((l) => l.level === 40 && String(l.msg).startsWith('running the workers as root')), 60_000, 'the warning');
  });
});
