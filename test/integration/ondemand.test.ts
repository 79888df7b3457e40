// pm=ondemand behind real nginx: the pool goes down to the master alone when idle, and the
// first connection after that is served (prefork and threaded; UNIX socket, TCP, fd 0, systemd).

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cgiFcgi } from '../helpers/cgi-fcgi.js';
import { waitFor } from '../helpers/load.js';
import { children } from '../helpers/processes.js';
import { nginxInFront, type Nginx } from '../helpers/nginx.js';
import { BIN, FIXTURES, freePort, need, start, tempDir, waitForListen, which, type Started } from '../helpers/run.js';

const CONTROL = path.join(FIXTURES, 'control-app.mjs');
const hasNginx = need('nginx');

function jsonLines(text: string): Record<string, unknown>[] {
  return text.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
}

const count = (text: string, msg: string): number => jsonLines(text).filter((l) => l.msg === msg).length;

function rssMb(pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  return Math.round(kb / 102.4) / 10;
}

/** Waits until the pool has gone to sleep `times` times: no worker left, the master watching. */
async function asleep(output: () => string, times: number): Promise<void> {
  await waitFor(() => count(output(), 'no worker runs: the master watches the socket') >= times, 20_000, `the pool asleep (${times})`);
  await waitFor(() => count(output(), 'worker starting') === count(output(), 'worker stopped'), 10_000, 'every worker stopped');
}

describe.each(['prefork', 'threaded'] as const)('pm=ondemand, method=%s', (method) => {
  describe.runIf(hasNginx).each(['unix', 'tcp'] as const)('on a %s socket', (transport) => {
    let dir: string;
    let address: string[];
    let nginx: Nginx;
    let server: Started | undefined;

    beforeAll(async () => {
      dir = tempDir();
      const port = await freePort();
      const sock = path.join(dir, 'app.sock');
      address = transport === 'unix' ? [`socket=${sock}`] : ['host=127.0.0.1', `port=${port}`];
      nginx = await nginxInFront(dir, transport === 'unix' ? `unix:${sock}` : `127.0.0.1:${port}`, { location: 'fastcgi_read_timeout 30s;' });
    });
    afterAll(async () => {
      await nginx?.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    });
    afterEach(async () => {
      await server?.stop('SIGINT');
      server = undefined;
    });

    it('after processidletimeout only the master runs; 20 parallel requests after that all succeed, and the pool sleeps again', async () => {
      const access = path.join(dir, `access-${method}.log`);
      fs.rmSync(access, { force: true });
      server = start([`app=${CONTROL}`, ...address, `method=${method}`, 'pm=ondemand', 'processidletimeout=1', `accesslog=${access}`, 'status=/status']);
      const s = server;
      await asleep(s.output, 1);
      const master = s.child.pid!;
      expect(children(master)).toEqual([]);
      const idleRss = rssMb(master);

      const started = performance.now();
      let first = 0;
      const answers = await Promise.all(
        Array.from({ length: 20 }, async (_, i) => {
          const res = await fetch(nginx.url(`/slow?ms=20&n=${i}`), { signal: AbortSignal.timeout(30_000) });
          const body = await res.text();
          first ||= performance.now() - started;
          return `${res.status} ${body}`;
        }),
      );
      expect(answers).toEqual(Array.from({ length: 20 }, () => '200 slow 20\n'));
      console.log(`pm=ondemand ${method} ${transport}: master alone ${idleRss} MB RSS; first answer ${Math.round(first)} ms from idle, all 20 in ${Math.round(performance.now() - started)} ms`);
      // Access log and status page as with any pool.
      await waitFor(() => fs.existsSync(access) && fs.readFileSync(access, 'utf8').trim().split('\n').length === 20, 10_000, '20 access log lines');
      // Counters come with heartbeats (every 100 ms): the page catches up.
      const accepted = async (): Promise<number> => ((await (await fetch(nginx.url('/status?json'))).json()) as { acceptedRequests: number }).acceptedRequests;
      await waitFor(async () => (await accepted()) >= 21, 10_000, 'the status page counting the 20 requests');

      await asleep(s.output, 2);
      expect(children(master)).toEqual([]);
      expect((await fetch(nginx.url('/who'))).status).toBe(200);
    });

    it('HUP while asleep loads the new code with the next worker; TERM while asleep stops cleanly', async () => {
      const app = path.join(dir, `versioned-${method}.mjs`);
      fs.writeFileSync(app, "export default (req, res) => res.end('version 1\\n');\n");
      server = start([`app=${app}`, ...address, `method=${method}`, 'pm=ondemand', 'processidletimeout=1']);
      const s = server;
      await asleep(s.output, 1);
      fs.writeFileSync(app, "export default (req, res) => res.end('version 2\\n');\n");
      s.child.kill('SIGHUP');
      await waitFor(() => s.output().includes('reloading: no worker runs; the next one loads the app anew'), 10_000, 'the reload');
      expect(children(s.child.pid!)).toEqual([]);
      expect(await (await fetch(nginx.url('/'))).text()).toBe('version 2\n');
      await asleep(s.output, 2);
      expect(await s.stop('SIGTERM')).toBe(0);
      server = undefined;
      if (transport === 'unix') expect(fs.existsSync(address[0]!.slice('socket='.length))).toBe(false);
    });
  });
});

describe('pm=ondemand on an inherited socket', () => {
  it.runIf(need('spawn-fcgi') && !!which('cgi-fcgi'))('serves the first connection after idle on the socket spawn-fcgi hands it on fd 0', async () => {
    const dir = tempDir();
    const sock = path.join(dir, 'spawned.sock');
    const child = spawn(which('spawn-fcgi')!, ['-n', '-s', sock, '--', process.execPath, BIN, `app=${CONTROL}`, 'pm=ondemand', 'processidletimeout=1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    try {
      await asleep(() => output, 1);
      const r = await cgiFcgi(sock, { REQUEST_URI: '/who' });
      expect(r.status).toBe(200);
      expect(count(output, 'a connection came: starting a worker')).toBe(1);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it.runIf(need('systemd-socket-activate') && !!which('cgi-fcgi'))('serves the first connection after idle on the socket systemd passes on fd 3', async () => {
    const dir = tempDir();
    const sock = path.join(dir, 'activated.sock');
    const child = spawn(which('systemd-socket-activate')!, ['-l', sock, process.execPath, BIN, `app=${CONTROL}`, 'daemonize=false', 'pm=ondemand', 'processidletimeout=1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    try {
      await waitForListen(sock);
      // The first connection starts runfcgi, as systemd does; the pool then goes to sleep.
      expect((await cgiFcgi(sock, { REQUEST_URI: '/who' })).status).toBe(200);
      await asleep(() => output, 1);
      const r = await cgiFcgi(sock, { REQUEST_URI: '/who' });
      expect(r.status).toBe(200);
      expect(count(output, 'a connection came: starting a worker')).toBe(1);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
