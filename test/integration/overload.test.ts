// Overload and faults cost nothing: connection floods, reload storms, killed workers, code that cannot load (issue 24).

import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { begin } from '../helpers/fcgi-records.js';
import { keepLoading, load, waitFor } from '../helpers/load.js';
import { FASTCGI_TO_APP, startNginxWith, type Nginx } from '../helpers/nginx.js';
import { children } from '../helpers/processes.js';
import { freePort, need, needRoot, start, tempDir, waitForListen, type Started } from '../helpers/run.js';

const hasNginx = need('nginx');
const hasWrk = need('wrk');

/** nginx in front of `target`, sized for thousands of client connections (listen backlog, worker_connections, a kept-alive upstream connection for each). */
function bigNginx(dir: string, target: string, clients: number): Promise<Nginx> {
  return startNginxWith(
    dir,
    (port) => `
  upstream app { server ${target} max_fails=0; keepalive ${clients}; }
  server {
    listen 127.0.0.1:${port} backlog=${clients};
    location / { ${FASTCGI_TO_APP} }
  }`,
    { workerConnections: 2 * clients + 1024 },
  );
}

interface WrkResult {
  requests: number;
  failed: number;
  text: string;
}

/** wrk for `seconds` with `connections` (its open-files limit raised for them); failed: non-2xx answers and socket errors. */
function wrk(url: string, connections: number, seconds: number): Promise<WrkResult> {
  const command = `ulimit -n ${connections + 1024}; exec wrk -t2 -c${connections} -d${seconds}s --timeout 30s ${url}`;
  return new Promise((resolve, reject) => {
    execFile('sh', ['-c', command], { encoding: 'utf8', timeout: (seconds + 120) * 1000 }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`wrk: ${error.message} ${stderr}`));
      const requests = Number(/(\d+) requests in/.exec(stdout)?.[1]);
      const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1] ?? 0);
      const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
      const failed = non2xx + (sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
      resolve({ requests, failed, text: stdout });
    });
  });
}

/**
 * `n` connections to `port` that each send `first` (nothing, or a few bytes)
 * and then wait. Opened in batches, so that the test's own connects do not
 * overrun the kernel's queues: the flood is of open connections, not of SYNs.
 */
async function flood(port: number, n: number, first: Buffer | null): Promise<net.Socket[]> {
  const sockets: net.Socket[] = [];
  for (let i = 0; i < n; i += 250) {
    const batch = Array.from({ length: Math.min(250, n - i) }, () => new Promise<net.Socket>((resolve) => {
      const c = net.connect(port, '127.0.0.1', () => {
        if (first !== null) c.write(first);
        resolve(c);
      });
      c.on('error', () => resolve(c));
    }));
    sockets.push(...(await Promise.all(batch)));
  }
  return sockets;
}

describe.runIf(hasNginx && hasWrk)('overload, with default options', () => {
  let dir: string;
  let server: Started | undefined;
  let nginx: Nginx | undefined;
  let app: string;

  beforeAll(() => {
    dir = tempDir();
    app = path.join(dir, 'app.mjs');
    fs.writeFileSync(app, `export default (req, res) => res.end('ok\\n');\n`);
  });
  afterEach(async () => {
    await nginx?.stop();
    nginx = undefined;
    await server?.stop();
    server = undefined;
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('3000 silent and 3000 slow connections on the TCP port: at most 0.1% of nginx requests fail (wrk -c200)', async () => {
    const port = await freePort();
    server = start([`app=${app}`, 'host=127.0.0.1', `port=${port}`]);
    await waitForListen(port);
    nginx = await bigNginx(dir, `127.0.0.1:${port}`, 200);
    // 3 bytes of a record header, then nothing: a slowloris.
    const silent = await flood(port, 3000, null);
    const slow = await flood(port, 3000, begin(1).subarray(0, 3));
    try {
      const r = await wrk(nginx.url('/'), 200, 8);
      console.log(`flood of 6000 on TCP + wrk -c200 through nginx: ${r.requests} requests, ${r.failed} failed`);
      expect(r.requests).toBeGreaterThan(0);
      expect(r.failed / r.requests).toBeLessThanOrEqual(0.001);
    } finally {
      for (const c of [...silent, ...slow]) c.destroy();
    }
  });

  /**
   * wrk -c5000 through nginx on the UNIX socket, runfcgi started by `wrapper` (or as is) with
   * default options; resolves once the flood is over and 200 more requests were all answered.
   */
  async function flood5000(wrapper: string[] = []): Promise<WrkResult> {
    const sock = path.join(dir, 'app.sock');
    server = start([`app=${app}`, `socket=${sock}`, 'umask=000'], {}, undefined, wrapper);
    // The socket listens before the workers have loaded the app: traffic that comes sooner waits in
    // the accept queue, and past it is refused. A site is up once its workers are.
    const started = server;
    await waitFor(() => (started.output().match(/"msg":"worker ready"/g) ?? []).length >= 2, 60_000, 'two workers ready');
    nginx = await bigNginx(dir, `unix:${sock}`, 5000);
    const r = await wrk(nginx.url('/'), 5000, 8);
    const backlog = /"backlog":(\d+)/.exec(started.output())?.[1];
    console.log(`wrk -c5000 through nginx, UNIX socket, backlog ${backlog}: ${r.requests} requests, ${r.failed} failed (${((100 * r.failed) / Math.max(1, r.requests)).toFixed(2)}%)`);
    if (r.failed > 0) console.log(summary(nginx.errorLog()));
    expect(r.requests).toBeGreaterThan(0);
    const after = await load(nginx.url('/'), 200, 8);
    expect(after).toEqual({ ok: 200, failed: 0, errors: [] });
    expect(started.child.exitCode).toBe(null);
    return r;
  }

  // A UNIX socket refuses a connection at once (EAGAIN: nginx answers 502) when its accept queue is
  // full, and the kernel caps that queue at net.core.somaxconn (4096 by default) whatever backlog=
  // asks. 5000 clients at once overrun it whenever the workers fall behind for a moment, as they do on
  // 2 shared cores (4.5-83% failed here across runs, by the machine's load; PHP-FPM 99% beside it).
  // So on the host's limit the rate is printed, and what is asserted is that the burst costs nothing
  // after it: every worker stays, and the next requests are all answered.
  it('wrk -c5000 through nginx on a UNIX socket, somaxconn as the host has it: the rate is printed; after the burst every request is answered', async () => {
    await flood5000();
  });

  // What docs/reliability.md tells a busy site to do: raise net.core.somaxconn. runfcgi's default
  // backlog= follows it, nothing else changes. The limit is raised in a network namespace of the
  // test's own (the queue of a socket is capped by its creator's namespace; nginx reaches the socket
  // by its path all the same), so the host is left as it was.
  it.runIf(needRoot('a raised net.core.somaxconn in a private network namespace'))('wrk -c5000 through nginx on a UNIX socket, net.core.somaxconn raised to 16384: at most 0.1% fail', async () => {
    const r = await flood5000(['unshare', '--net', 'sh', '-c', 'sysctl -qw net.core.somaxconn=16384 && exec "$0" "$@"']);
    expect(r.failed / r.requests).toBeLessThanOrEqual(0.001);
  });
});

/** nginx's error log by kind of error: what failed requests met. */
function summary(log: string): string {
  const kinds = new Map<string, number>();
  for (const line of log.split('\n')) {
    const m = /\[(error|crit|alert)\] \d+#\d+: \*?\d* ?(.{0,80})/.exec(line);
    if (m) kinds.set(m[2]!.replace(/\d+/g, 'N'), (kinds.get(m[2]!.replace(/\d+/g, 'N')) ?? 0) + 1);
  }
  return [...kinds].map(([k, n]) => `${n} x ${k}`).join('\n');
}

/** How long each worker took from 'worker starting' to 'worker ready', from the master's log (ms). */
function startMs(output: string): number[] {
  const started = new Map<number, number>();
  const took: number[] = [];
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue;
    const l = JSON.parse(line) as { msg?: string; worker?: number; time?: number };
    if (l.msg === 'worker starting' && l.worker !== undefined) started.set(l.worker, l.time!);
    if (l.msg === 'worker ready' && started.has(l.worker!)) took.push(l.time! - started.get(l.worker!)!);
  }
  return took;
}

/** The master's lines about workers that ended ('worker died', 'worker stopped', 'worker failed ...'), parsed. */
function exitLines(output: string): { msg: string; workerPid: number; restart?: string }[] {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{') && line.endsWith('}') && line.includes('"workerPid"') && /"msg":"worker (died|stopped|failed)/.test(line))
    .map((line) => JSON.parse(line) as { msg: string; workerPid: number; restart?: string });
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

/** CPU seconds (user + system) a process has used, from /proc. */
function cpuSeconds(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

describe.runIf(hasNginx)('faults under POST load through nginx (pool of 2, maxchildren=4)', () => {
  let dir: string;
  let sock: string;
  let nginx: Nginx;
  let server: Started | undefined;

  beforeAll(async () => {
    dir = tempDir();
    sock = path.join(dir, 'app.sock');
    nginx = await bigNginx(dir, `unix:${sock}`, 64);
  });
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });
  afterAll(async () => {
    await nginx?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function writeApp(file: string, version: string): void {
    fs.writeFileSync(file, `export default (req, res) => { req.resume(); req.on('end', () => res.end('${version}\\n')); };\n`);
  }

  async function boot(app: string): Promise<Started> {
    server = start([`app=${app}`, `socket=${sock}`, 'umask=000', 'minspare=2', 'maxspare=2', 'maxchildren=4']);
    await waitForListen(sock);
    return server;
  }

  const post = { body: 'x'.repeat(100) };

  it('10 HUPs 0.3 s apart: at most pool x 2 + 2 workers, the newest code served, nothing failed', async () => {
    const app = path.join(dir, 'app-storm.mjs');
    writeApp(app, 'v0');
    const s = await boot(app);
    const seen: string[] = [];
    const traffic = keepLoading(nginx.url('/'), 8, post, (body) => seen.push(body.trim()));
    await waitFor(() => traffic.result.ok >= 20, 30_000, 'load running');
    let peak = 0;
    const watch = setInterval(() => (peak = Math.max(peak, children(s.child.pid!).length)), 50);
    let lastHup = 0;
    try {
      for (let i = 1; i <= 10; i++) {
        writeApp(app, `v${i}`);
        s.child.kill('SIGHUP');
        lastHup = Date.now();
        await new Promise((r) => setTimeout(r, 300));
      }
      await waitFor(() => seen.at(-1) === 'v10', 60_000, 'the newest code served');
      const newestAfterMs = Date.now() - lastHup;
      const served = traffic.result.ok;
      await waitFor(() => traffic.result.ok >= served + 20, 30_000, '20 more requests');
      console.log(`10 HUPs 0.3 s apart: peak ${peak} workers, v10 served ${newestAfterMs} ms after the last HUP (or sooner), ${traffic.result.ok} requests`);
    } finally {
      clearInterval(watch);
    }
    const r = await traffic.stop();
    expect(r.failed, r.errors.slice(0, 3).join('; ')).toBe(0);
    expect(peak).toBeLessThanOrEqual(2 * 2 + 2);
    const starts = s.output().match(/"msg":"worker starting"/g)?.length ?? 0;
    console.log(`worker starts: ${starts}`);
  });

  it('a serving worker SIGKILLed every 200 ms for 10 s: each replaced at once, no back-off, the pool back in full', async () => {
    const app = path.join(dir, 'app-kill.mjs');
    // Each answer names its worker: the test kills workers that serve, as the OOM killer would.
    fs.writeFileSync(app, `export default (req, res) => { req.resume(); req.on('end', () => res.end(String(process.pid))); };\n`);
    const s = await boot(app);
    const answers: { at: number; pid: number }[] = [];
    const traffic = keepLoading(nginx.url('/'), 8, post, (body) => answers.push({ at: Date.now(), pid: Number(body) }));
    await waitFor(() => traffic.result.ok >= 20, 30_000, 'load running');
    const t0 = Date.now();
    const killed = new Set<number>();
    // Bounded: 50 rounds, one every 200 ms at the soonest.
    for (let i = 0; i < 50; i++) {
      let victim: number | undefined;
      for (let k = answers.length - 1; k >= 0 && victim === undefined; k--) if (!killed.has(answers[k]!.pid)) victim = answers[k]!.pid;
      if (victim !== undefined) {
        killed.add(victim);
        try {
          process.kill(victim, 'SIGKILL');
        } catch {
          // gone already
        }
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    const t1 = Date.now();
    await waitFor(() => answers.some((a) => a.at > t1), 60_000, 'an answer after the last kill');
    const r = await traffic.stop();
    const seconds = Math.floor((t1 - t0) / 1000);
    const perSecond = Array.from({ length: seconds }, (_, k) => answers.filter((a) => a.at >= t0 + k * 1000 && a.at < t0 + (k + 1) * 1000).length);
    console.log(`${killed.size} serving workers SIGKILLed over ${seconds} s: answers per second ${perSecond.join(' ')}; ${r.ok} ok, ${r.failed} failed (requests in a killed worker fail); a worker's start to ready: median ${median(startMs(s.output()))} ms`);
    // Seconds without answers come only from the start time of a worker (Node has no fork): a figure for the report, not a test.
    expect(s.output()).not.toContain('backing off');
    // Each killed worker's end, by the master: replaced at once, or stopped if it was leaving already
    // (a spare retired past maxspare, still answering its last requests when the kill came).
    const ends = exitLines(s.output()).filter((l) => killed.has(l.workerPid));
    for (const end of ends) expect(end.msg === 'worker stopped' || (end.msg === 'worker died' && end.restart === 'at once'), JSON.stringify(end)).toBe(true);
    expect(ends.filter((l) => l.msg === 'worker died').length).toBeGreaterThan(0);
    expect(new Set(ends.map((l) => l.workerPid)).size).toBe(killed.size);
    // Back in full: two workers not killed answer.
    const fresh = new Set(answers.filter((a) => a.at > t1 && !killed.has(a.pid)).map((a) => a.pid));
    const more = keepLoading(nginx.url('/'), 8, post, (body) => fresh.add(Number(body)));
    await waitFor(() => fresh.size >= 2, 60_000, 'two live workers answering');
    expect((await more.stop()).failed).toBe(0);
  });

  it('a reload onto code that cannot load: the old workers serve, the master stays under 20% of a core', async () => {
    const app = path.join(dir, 'app-broken.mjs');
    writeApp(app, 'old');
    const s = await boot(app);
    const traffic = keepLoading(nginx.url('/'), 4, post);
    await waitFor(() => traffic.result.ok >= 20, 30_000, 'load running');
    fs.writeFileSync(app, `throw new Error('deploy went wrong');\n`);
    s.child.kill('SIGHUP');
    await waitFor(() => s.output().includes('backing off'), 60_000, 'the first back-off');
    const pid = s.child.pid!;
    const cpu0 = cpuSeconds(pid);
    const t0 = Date.now();
    const served0 = traffic.result.ok;
    // Measured over the next steps of the back-off (0.5 s, 1 s, 2 s ... 32 s): 1 + 2 + 4 + 8 s at least.
    await waitFor(() => (s.output().match(/backing off/g)?.length ?? 0) >= 5, 120_000, 'four more back-off steps');
    const seconds = (Date.now() - t0) / 1000;
    const share = (cpuSeconds(pid) - cpu0) / seconds;
    const r = await traffic.stop();
    const steps = s.output().match(/backing off/g)?.length ?? 0;
    console.log(`reload onto code that cannot load: master ${(share * 100).toFixed(1)}% of a core over ${seconds.toFixed(1)} s, ${steps} back-off steps, ${r.ok - served0} requests served by the old workers meanwhile, ${r.failed} failed`);
    expect(r.failed).toBe(0);
    expect(r.ok).toBeGreaterThan(served0);
    // Workers started for the broken code (after the reload's log line): two per step (the pool), not seven a second.
    const afterReload = s.output().slice(s.output().indexOf('"msg":"reloading'));
    expect(afterReload.match(/"msg":"worker starting"/g)?.length ?? 0).toBeLessThanOrEqual(2 * (steps + 1));
    expect(share).toBeLessThan(0.2);
  });
});
