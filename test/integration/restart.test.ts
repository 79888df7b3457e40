// The Django restart script (kill, then start at once) under load through nginx: no request fails, on a UNIX socket or TCP.

import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { keepLoading, waitFor } from '../helpers/load.js';
import { nginxInFront, startNginx, type Nginx } from '../helpers/nginx.js';
import { children, readPid, running } from '../helpers/processes.js';
import { FIXTURES, freePort, need, start, tempDir, type Started } from '../helpers/run.js';
import { quitMaster, restartProject, runRestartScript } from '../helpers/restart.js';

const RESTARTS = 20;

interface Target {
  /** The restart script's LISTEN= (runfcgi's address options). */
  listen: (dir: string, port: number) => string;
  /** nginx's upstream server. */
  upstream: (dir: string, port: number) => string;
  /** Where a stopping master offers its TCP socket (must be gone at the end). */
  rendezvous?: (port: number) => string;
  options: string;
}

const uid = process.geteuid?.() ?? 0;
const TARGETS: Record<string, Target> = {
  'a UNIX socket': { listen: (d) => `socket=${d}/mysite.sock`, upstream: (d) => `unix:${d}/mysite.sock`, options: '' },
  'TCP on 127.0.0.1': {
    listen: (_d, port) => `host=127.0.0.1 port=${port}`,
    upstream: (_d, port) => `127.0.0.1:${port}`,
    rendezvous: (port) => `/tmp/runfcgi-${uid}/tcp-127.0.0.1-${port}.sock`,
    options: '',
  },
  'TCP on ::1': {
    listen: (_d, port) => `host=::1 port=${port}`,
    upstream: (_d, port) => `[::1]:${port}`,
    rendezvous: (port) => `/tmp/runfcgi-${uid}/tcp-::1-${port}.sock`,
    options: '',
  },
  'TCP on 127.0.0.1 with method=threaded': {
    listen: (_d, port) => `host=127.0.0.1 port=${port}`,
    upstream: (_d, port) => `127.0.0.1:${port}`,
    rendezvous: (port) => `/tmp/runfcgi-${uid}/tcp-127.0.0.1-${port}.sock`,
    options: 'method=threaded',
  },
};

describe.runIf(need('nginx')).each(Object.entries(TARGETS))('the restart script on %s', (_name, target) => {
  let d: string;
  let port: number;
  let nginx: Nginx;
  beforeAll(async () => {
    d = tempDir();
    port = await freePort();
    restartProject(d, path.join(FIXTURES, 'control-app.mjs'));
    // One server. Under /fresh/: a new connection per request (not the upstream's kept-alive
    // ones) and no retry, so a connection refused, or reset in an accept queue, is a failed
    // request. Under /: the nginx recipe's configuration, kept-alive connections.
    const upstream = target.upstream(d, port);
    nginx = await nginxInFront(d, upstream, {
      server: `location /fresh/ { include /etc/nginx/fastcgi_params; fastcgi_pass ${upstream}; fastcgi_next_upstream off; }`,
    });
  });
  afterEach(() => quitMaster(`${d}/mysite.pid`));
  afterAll(async () => {
    await nginx?.stop();
    fs.rmSync(d, { recursive: true, force: true });
  });

  const restart = (): Promise<number | null> => runRestartScript(d, target.listen(d, port), target.options);

  it(`run ${RESTARTS} times back to back under load: no failed request, requests in progress finish, one master left, no stray process`, async () => {
    expect(await restart()).toBe(0);
    const fresh = keepLoading(nginx.url('/fresh/hello'), 3);
    const kept = keepLoading(nginx.url('/hello'), 1);
    const masters = new Set<number>();
    const processes = new Set<number>();
    const slow: Promise<Response>[] = [];
    for (let i = 0; i < RESTARTS; i++) {
      const before = readPid(`${d}/mysite.pid`);
      for (const pid of [before, ...children(before)]) processes.add(pid);
      // A request the old master is busy with when the script kills it.
      if (i % 5 === 0) slow.push(fetch(nginx.url('/slow?ms=800')));
      expect(await restart()).toBe(0);
      const pid = readPid(`${d}/mysite.pid`);
      masters.add(pid);
      expect(running(pid)).toBe(true);
      const who = await fetch(nginx.url('/fresh/who'));
      expect(who.status).toBe(200);
    }
    const last = readPid(`${d}/mysite.pid`);
    // Once the old masters have drained, exactly the last one is left, with its workers.
    await waitFor(() => [...masters].filter(running).length === 1, 15_000, 'one master left');
    expect([...masters].filter(running)).toEqual([last]);
    const lastGroup = new Set([last, ...children(last)]);
    expect(lastGroup.size).toBeGreaterThanOrEqual(target.options === 'method=threaded' ? 1 : 2);
    await waitFor(() => [...processes].filter((p) => !lastGroup.has(p) && running(p)).length === 0, 15_000, 'old workers gone');
    for (const answer of await Promise.all(slow)) {
      expect(answer.status).toBe(200);
      expect(await answer.text()).toBe('slow 800\n');
    }
    const [result, keptResult] = await Promise.all([fresh.stop(), kept.stop()]);
    console.log(`restart script x${RESTARTS} on ${target.listen('DIR', port)} ${target.options}: ${result.ok} requests answered, ${result.failed} failed (kept-alive connections: ${keptResult.ok}, ${keptResult.failed})`);
    // What nginx saw of the failed ones, for whoever reads a red run.
    if (result.failed + keptResult.failed > 0) console.error(nginx.errorLog().split('\n').filter((l) => /\[(error|crit|alert)\]/.test(l)).slice(-30).join('\n'));
    // Traffic flowed through the restarts (how much depends on the machine): at least one answer per restart.
    expect(result.ok).toBeGreaterThanOrEqual(RESTARTS);
    expect(result.errors.slice(0, 5)).toEqual([]);
    expect(result.failed).toBe(0);
    expect(keptResult.failed).toBe(0);
    expect(fs.readdirSync(d).filter((f) => f.includes('handover') || f.startsWith('.runfcgi-'))).toEqual([]);
    if (target.rendezvous) expect(fs.existsSync(target.rendezvous(port))).toBe(false);
  });
});

describe.runIf(need('nginx'))('a foreground master on TCP', () => {
  let d: string;
  let nginx: Nginx;
  const started: Started[] = [];
  beforeAll(async () => {
    d = tempDir();
  });
  afterAll(async () => {
    for (const s of started) await s.stop('SIGQUIT');
    await nginx?.stop();
    fs.rmSync(d, { recursive: true, force: true });
  });

  it.each(['prefork', 'threaded'])('kill, remove the pidfile, start again in the foreground (%s): no failed request', async (method) => {
    const port = await freePort();
    nginx = await startNginx(d, `location /fresh/ { include /etc/nginx/fastcgi_params; fastcgi_pass 127.0.0.1:${port}; fastcgi_next_upstream off; }`);
    const args = [`app=${path.join(FIXTURES, 'control-app.mjs')}`, 'host=127.0.0.1', `port=${port}`, `pidfile=${d}/${method}.pid`, `method=${method}`];
    const first = start(args);
    started.push(first);
    await waitFor(() => fs.existsSync(`${d}/${method}.pid`), 30_000, 'the first master serving');
    const traffic = keepLoading(nginx.url('/fresh/hello'), 3);
    let previous = first;
    for (let i = 0; i < 3; i++) {
      previous.child.kill('SIGTERM');
      fs.rmSync(`${d}/${method}.pid`);
      const next = start(args);
      started.push(next);
      // It leaves once the next one serves (stop() would signal it again).
      await waitFor(() => previous.child.exitCode !== null, 30_000, 'the old master gone');
      expect(previous.child.exitCode).toBe(0);
      await waitFor(() => fs.existsSync(`${d}/${method}.pid`), 30_000, 'the next master serving');
      expect(next.output()).toContain('taking the socket over from a stopping runfcgi');
      previous = next;
    }
    const result = await traffic.stop();
    await nginx.stop();
    expect(result.ok).toBeGreaterThanOrEqual(3);
    expect(result.errors.slice(0, 5)).toEqual([]);
    expect(result.failed).toBe(0);
  });
});
