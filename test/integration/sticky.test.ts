// sticky=true: state kept in one worker's memory (express-session's MemoryStore) through real nginx,
// against the same pool without it; a client whose worker is gone moves on; counts stay right.

import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawRequest } from '../helpers/differential.js';
import { nginxInFront, startNginx, type Nginx } from '../helpers/nginx.js';
import { FIXTURES, need, runSync, start, tempDir, waitForListen, type Started } from '../helpers/run.js';
import { waitFor } from '../helpers/load.js';
import { Jar, parallelRounds } from '../helpers/sticky.js';

const SESSION_APP = path.join(FIXTURES, 'state/session.mjs');
const TWO = ['maxchildren=2', 'minspare=2', 'maxspare=2'];

interface Setup {
  name: string;
  args: string[];
  scgi?: boolean;
}

interface Running {
  dir: string;
  sock: string;
  server: Started;
  nginx: Nginx;
  stop(): Promise<void>;
}

async function startBehindNginx(setup: Setup): Promise<Running> {
  const dir = tempDir();
  const sock = path.join(dir, 'app.sock');
  const server = start([`app=${SESSION_APP}`, `socket=${sock}`, ...TWO, ...setup.args]);
  await waitForListen(sock);
  // Both workers up before the first request: a client must be able to land on either.
  await waitFor(() => poolStatus(sock).workers.filter((w) => w.state === 'ready').length === 2, 60_000, 'two workers ready');
  const nginx = setup.scgi
    ? await startNginx(dir, `location / { include /etc/nginx/scgi_params; scgi_pass unix:${sock}; }`)
    : await nginxInFront(dir, `unix:${sock}`);
  return {
    dir, sock, server, nginx,
    async stop() {
      await nginx.stop();
      await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

function poolStatus(sock: string): { acceptedRequests: number; abortedRequests: number; workers: { id: number; state: string; requests: number; activeRequests: number }[] } {
  const r = runSync(['status', '--json', `socket=${sock}`]);
  if (r.code !== 0) return { acceptedRequests: -1, abortedRequests: -1, workers: [] };
  return JSON.parse(r.stdout);
}

async function login(nginx: Nginx): Promise<{ jar: Jar; worker: string }> {
  const jar = new Jar();
  const res = await jar.fetch(nginx.url('/login'), { method: 'POST' });
  expect(res.status).toBe(200);
  return { jar, worker: ((await res.json()) as { worker: string }).worker };
}

const STICKY: Setup[] = [
  { name: 'prefork, FastCGI', args: ['sticky=true'] },
  { name: 'threaded, FastCGI', args: ['sticky=true', 'method=threaded'] },
  { name: 'prefork, SCGI', args: ['sticky=true', 'protocol=scgi'], scgi: true },
];

describe.runIf(need('nginx'))('sticky=true through nginx, two workers', () => {
  for (const setup of STICKY) {
    describe(setup.name, () => {
      let run: Running;
      beforeAll(async () => {
        run = await startBehindNginx(setup);
      });
      afterAll(async () => {
        await run?.stop();
      });

      it('an express-session MemoryStore login holds for 3 x 8 parallel requests: 0 of 24 get 401, all from the login\'s worker', async () => {
        const { jar, worker } = await login(run.nginx);
        expect(jar.cookies.get('runfcgi_route')).toMatch(/^[0-9a-f]{8}\.\d+$/);
        const got = await parallelRounds(jar, run.nginx.url('/me'), 3, 8);
        expect(got.statuses.filter((s) => s === 401)).toHaveLength(0);
        expect(got.statuses).toEqual(Array(24).fill(200));
        expect(new Set(got.workers)).toEqual(new Set([worker]));
      });

      it('relays request bodies both ways intact: 8 parallel POSTs of 2 MB echo back byte for byte', async () => {
        const { jar } = await login(run.nginx);
        const body = Buffer.alloc(2 * 1024 * 1024, 'abcdefghijklmnopqrstuvwxyz0123456789\n').toString();
        const answers = await Promise.all(Array.from({ length: 8 }, async () => {
          const res = await fetch(run.nginx.url('/echo'), { method: 'POST', body, headers: { cookie: jar.header(), 'content-type': 'text/plain' } });
          return { status: res.status, same: (await res.text()) === body };
        }));
        expect(answers).toEqual(Array(8).fill({ status: 200, same: true }));
      });

      it('counts each request once, in the worker that served it', async () => {
        const before = poolStatus(run.sock);
        const { jar, worker } = await login(run.nginx);
        const got = await parallelRounds(jar, run.nginx.url('/me'), 2, 8);
        expect(got.statuses).toEqual(Array(16).fill(200));
        expect(new Set(got.workers)).toEqual(new Set([worker]));
        const want = before.acceptedRequests + 17;
        await waitFor(() => poolStatus(run.sock).acceptedRequests >= want, 30_000, 'the heartbeats to count 17 more requests');
        const after = poolStatus(run.sock);
        expect(after.acceptedRequests).toBe(want);
        const served = after.workers.map((w) => w.requests - (before.workers.find((b) => b.id === w.id)?.requests ?? 0));
        // One worker served the login and all 16 (wherever nginx sent them); the other, none of them.
        expect(served.sort((a, b) => a - b)).toEqual([0, 17]);
        await waitFor(() => poolStatus(run.sock).workers.every((w) => w.activeRequests === 0), 30_000, 'no request active');
      });

      it('clients that leave are told to the worker serving them, and counted once, there', async () => {
        const { jar } = await login(run.nginx);
        await waitFor(() => poolStatus(run.sock).workers.every((w) => w.activeRequests === 0), 30_000, 'no request active');
        const before = poolStatus(run.sock);
        const clients = Array.from({ length: 6 }, () => rawRequest(run.nginx.port, `GET /slow HTTP/1.1\r\nHost: localhost\r\nCookie: ${jar.header()}\r\n\r\n`));
        // Active in the worker that owns the session only: a forwarded request is not active where it passes through.
        await waitFor(() => {
          const active = poolStatus(run.sock).workers.map((w) => w.activeRequests).sort();
          return active.join() === '0,6';
        }, 30_000, '6 requests active in one worker');
        for (const c of clients) c.socket.destroy();
        await waitFor(() => poolStatus(run.sock).abortedRequests >= before.abortedRequests + 6, 30_000, '6 clients counted as gone');
        await waitFor(() => poolStatus(run.sock).workers.every((w) => w.activeRequests === 0), 30_000, 'no request active');
        expect(poolStatus(run.sock).abortedRequests).toBe(before.abortedRequests + 6);
      });
    });
  }

  describe('a client whose worker is gone', () => {
    let run: Running;
    beforeAll(async () => {
      run = await startBehindNginx({ name: 'prefork', args: ['sticky=true'] });
    });
    afterAll(async () => {
      await run?.stop();
    });

    it('moves to another worker with a new route cookie after a reload, and stays there', async () => {
      const { jar } = await login(run.nginx);
      const first = jar.cookies.get('runfcgi_route');
      const old = poolStatus(run.sock).workers.map((w) => w.id);
      run.server.child.kill('SIGHUP');
      await waitFor(() => {
        const workers = poolStatus(run.sock).workers;
        return workers.length === 2 && workers.every((w) => !old.includes(w.id) && w.state === 'ready');
      }, 90_000, 'the old workers gone, two fresh ones ready');
      // Its session was in the old worker's memory: gone with it (sticky=true keeps a client with its worker, no more).
      const res = await jar.fetch(run.nginx.url('/me'));
      expect(res.status).toBe(401);
      const moved = jar.cookies.get('runfcgi_route');
      expect(moved).toBeDefined();
      expect(moved).not.toBe(first);
      const again = await login(run.nginx);
      const got = await parallelRounds(again.jar, run.nginx.url('/me'), 3, 8);
      expect(got.statuses).toEqual(Array(24).fill(200));
    });
  });

  describe('without sticky=true (the failure it fixes)', () => {
    let run: Running;
    beforeAll(async () => {
      run = await startBehindNginx({ name: 'prefork', args: [] });
    });
    afterAll(async () => {
      await run?.stop();
    });

    it('parallel requests reach the worker without the session and get 401', async () => {
      const { jar } = await login(run.nginx);
      expect(jar.cookies.has('runfcgi_route')).toBe(false);
      let unauthorised = 0;
      // Which worker accepts nginx's new connections is the kernel's choice: up to 10 rounds until one misses.
      for (let round = 0; round < 10 && unauthorised === 0; round++) {
        const got = await parallelRounds(jar, run.nginx.url('/me'), 1, 8);
        unauthorised += got.statuses.filter((s) => s === 401).length;
      }
      expect(unauthorised).toBeGreaterThan(0);
    });
  });
});
