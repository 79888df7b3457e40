// Worker changes lose no request, POSTs included: reload, recycling and a smaller pool under POST load through nginx keepalive.

import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { failures, keepLoading, waitFor } from '../helpers/load.js';
import { expectPeaksWithin, retiredPeaks } from '../helpers/maxmemory.js';
import { nginxInFront, type Nginx } from '../helpers/nginx.js';
import { readPid, running } from '../helpers/processes.js';
import { quitMaster, restartProject, runRestartScript } from '../helpers/restart.js';
import { freePort, need, start, tempDir, waitForListen, type Started } from '../helpers/run.js';

const hasNginx = need('nginx');

/**
 * Reads the whole POST body and answers with its length and the app's
 * version; `leak` KiB kept per request (for maxmemory=).
 */
function writeApp(file: string, version: string, leakKib = 0): void {
  fs.writeFileSync(file, `
const kept = [];
export default (req, res) => {
  let n = 0;
  req.on('data', (d) => { n += d.length; });
  req.on('end', () => {
    ${leakKib > 0 ? `kept.push(Buffer.alloc(${leakKib * 1024}, 1));` : ''}
    res.end('${version} ' + n + '\\n');
  });
};
`);
}

/** A body a little over one FastCGI record, so that nginx sends it in several. */
const BODY = 'x'.repeat(70_000);
const POST = { body: BODY, expect: ` ${BODY.length}` };

/** Log lines of a JSON log with this message. */
function lines(s: Started, msg: string): number {
  return s.output().split('\n').filter((l) => l.startsWith('{') && (JSON.parse(l) as { msg?: string }).msg === msg).length;
}

describe.runIf(hasNginx).each(['prefork', 'threaded'] as const)('lossless worker changes under POST load, %s', (method) => {
  let dir: string;
  let sock: string;
  let nginx: Nginx;
  let server: Started | undefined;

  beforeAll(async () => {
    dir = tempDir();
    sock = path.join(dir, 'app.sock');
    nginx = await nginxInFront(dir, `unix:${sock}`);
  });
  afterAll(async () => {
    await nginx?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  afterEach(async () => {
    await server?.stop('SIGINT');
    server = undefined;
  });

  async function version(): Promise<string> {
    const res = await fetch(nginx.url('/'), { method: 'POST', body: 'v' });
    return (await res.text()).split(' ')[0]!;
  }

  it('5 SIGHUP reloads lose no POST', async () => {
    const app = path.join(dir, 'app-hup.mjs');
    writeApp(app, 'v0');
    server = start([`app=${app}`, `socket=${sock}`, `method=${method}`, 'umask=000', 'minspare=2', 'maxspare=2', 'loglevel=debug']);
    await waitForListen(sock);
    const traffic = keepLoading(nginx.url('/'), 8, POST);
    await waitFor(() => traffic.result.ok >= 50, 60_000, '50 POSTs before the first reload');
    for (let v = 1; v <= 5; v++) {
      writeApp(app, `v${v}`);
      server.child.kill('SIGHUP');
      await waitFor(async () => (await version()) === `v${v}`, 60_000, `v${v} served`);
      const served = traffic.result.ok;
      await waitFor(() => traffic.result.ok >= served + 50, 60_000, `50 POSTs after reload ${v}`);
    }
    const r = await traffic.stop();
    expect(r.failed, failures(r)).toBe(0);
    // The old workers' kept-alive connections went on to the fresh ones: the mechanism did run.
    expect(lines(server, 'kept-alive connection passed on')).toBeGreaterThan(0);
  }, 300_000);

  /** Starts runfcgi with `args` under POST load until `count` workers retired with `why` (and `until`); no POST may fail. */
  async function recycling(name: string, leakKib: number, args: string[], why: string, count: number, until = (): boolean => true): Promise<void> {
    const app = path.join(dir, `app-${name}.mjs`);
    writeApp(app, 'v1', leakKib);
    server = start([`app=${app}`, `socket=${sock}`, `method=${method}`, 'umask=000', 'minspare=2', 'maxspare=2', 'loglevel=debug', ...args]);
    await waitForListen(sock);
    const traffic = keepLoading(nginx.url('/'), 8, POST);
    // Counted from the log, not from the clock.
    await waitFor(() => lines(server!, `${why}: retiring after the requests in progress`) >= count && until(), 240_000, `${count} workers retired (${why})`);
    const r = await traffic.stop();
    expect(r.failed, failures(r)).toBe(0);
    expect(lines(server, 'kept-alive connection passed on')).toBeGreaterThan(0);
  }

  it('SIGTTOU (one worker fewer) loses no POST', async () => {
    const app = path.join(dir, 'app-ttou.mjs');
    writeApp(app, 'v1');
    server = start([`app=${app}`, `socket=${sock}`, `method=${method}`, 'umask=000', 'minspare=3', 'maxspare=3', 'loglevel=debug']);
    await waitForListen(sock);
    const traffic = keepLoading(nginx.url('/'), 8, POST);
    await waitFor(() => traffic.result.ok >= 50, 60_000, '50 POSTs first');
    for (let stopped = 1; stopped <= 2; stopped++) {
      server.child.kill('SIGTTOU');
      await waitFor(() => lines(server!, 'worker stopped') >= stopped, 60_000, `${stopped} worker(s) stopped`);
      const served = traffic.result.ok;
      await waitFor(() => traffic.result.ok >= served + 50, 60_000, `50 POSTs after SIGTTOU ${stopped}`);
    }
    const r = await traffic.stop();
    expect(r.failed, failures(r)).toBe(0);
    // The spare worker that leaves is the least loaded one, which may hold none of nginx's kept-alive
    // connections (a busy worker often accepts them all): then there is nothing to pass, and nothing lost.
    console.log(`SIGTTOU x2: ${r.ok} POSTs answered, ${lines(server, 'kept-alive connection passed on')} connection(s) passed on`);
  }, 300_000);

  it('maxrequests= recycling loses no POST', async () => {
    await recycling('maxreq', 0, ['maxrequests=300'], 'maxrequests reached', 4);
  }, 300_000);

  it('maxmemory= recycling loses no POST, and each worker retires within 10% of the limit', async () => {
    // 4 MB kept per request, every page written: a worker passes 256 MB within 50-odd requests.
    // Each says its peak once its requests are done (counted under load, before it has left).
    await recycling('maxmem', 4096, ['maxmemory=256'], 'maxmemory exceeded', 6, () => retiredPeaks(server!.output()).length >= 6);
    // A thread goes past the limit by what the requests it had begun keep (8 at once here): see workers.test.ts.
    if (method === 'prefork') expectPeaksWithin(server!.output(), 256, 'prefork, 4 MB a request, 8 POSTs at once through nginx');
  }, 300_000);
});

const RESTART_TARGETS = {
  'a UNIX socket': { listen: (d: string) => `socket=${d}/mysite.sock`, upstream: (d: string) => `unix:${d}/mysite.sock` },
  'TCP': { listen: (_d: string, port: number) => `host=127.0.0.1 port=${port}`, upstream: (_d: string, port: number) => `127.0.0.1:${port}` },
};

const RESTARTS = (['prefork', 'threaded'] as const).flatMap((method) => Object.entries(RESTART_TARGETS).map(([name, target]) => [name, method, target] as const));

describe.runIf(hasNginx).each(RESTARTS)('the restart script on %s under POST load, %s', (_name, method, target) => {
  let d: string;
  let port: number;
  let nginx: Nginx;

  beforeAll(async () => {
    d = tempDir();
    port = await freePort();
    writeApp(path.join(d, 'source.mjs'), 'v1');
    restartProject(d, path.join(d, 'source.mjs'));
    nginx = await nginxInFront(d, target.upstream(d, port));
  });
  afterAll(async () => {
    await quitMaster(`${d}/mysite.pid`);
    await nginx?.stop();
    fs.rmSync(d, { recursive: true, force: true });
  });

  it('3 restarts lose no POST: the kept-alive connections go on to the next master', async () => {
    const restart = (): Promise<number | null> => runRestartScript(d, target.listen(d, port), `method=${method} minspare=2 maxspare=2 loglevel=debug`);
    expect(await restart()).toBe(0);
    const traffic = keepLoading(nginx.url('/'), 8, POST);
    await waitFor(() => traffic.result.ok >= 50, 60_000, '50 POSTs before the first restart');
    const masters: number[] = [];
    for (let i = 0; i < 3; i++) {
      masters.push(readPid(`${d}/mysite.pid`));
      expect(await restart()).toBe(0);
      const served = traffic.result.ok;
      await waitFor(() => traffic.result.ok >= served + 50, 60_000, `50 POSTs after restart ${i + 1}`);
    }
    // The old masters leave once their connections went on.
    await waitFor(() => masters.every((pid) => !running(pid)), 60_000, 'the old masters gone');
    const r = await traffic.stop();
    expect(r.failed, failures(r)).toBe(0);
    const log = fs.readFileSync(`${d}/err.log`, 'utf8');
    expect(log).toContain('kept-alive connections taken over from the previous master');
  }, 300_000);
});
