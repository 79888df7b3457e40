// docs/state.md's recipes as written (examples/state/), two workers behind real nginx: in-memory
// sessions with sticky=true, sessions in a real Redis without it, socket.io's long-polling with sticky=true.

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { io as connect } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nginxInFront, type Nginx } from '../helpers/nginx.js';
import { ROOT, freePort, need, runSync, start, tempDir, waitForListen, which, type Started } from '../helpers/run.js';
import { waitFor } from '../helpers/load.js';
import { Jar, parallelRounds } from '../helpers/sticky.js';

const RECIPES = path.join(ROOT, 'examples/state');

interface Running {
  sock: string;
  server: Started;
  nginx: Nginx;
}

async function serveRecipe(dir: string, recipe: string, args: string[]): Promise<Running> {
  const sock = path.join(dir, 'app.sock');
  const server = start([`app=${path.join(RECIPES, recipe)}`, `socket=${sock}`, 'maxchildren=2', 'minspare=2', 'maxspare=2', ...args]);
  await waitForListen(sock);
  await waitFor(() => {
    const r = runSync(['status', '--json', `socket=${sock}`]);
    return r.code === 0 && (JSON.parse(r.stdout) as { workers: { state: string }[] }).workers.filter((w) => w.state === 'ready').length === 2;
  }, 60_000, 'two workers ready');
  return { sock, server, nginx: await nginxInFront(dir, `unix:${sock}`) };
}

async function loginAndAsk(nginx: Nginx): Promise<number[]> {
  const jar = new Jar();
  expect((await jar.fetch(nginx.url('/login'), { method: 'POST' })).status).toBe(200);
  return (await parallelRounds(jar, nginx.url('/me'), 3, 8)).statuses;
}

describe.runIf(need('nginx'))('docs/state.md recipes', () => {
  describe('session-memory.mjs with sticky=true', () => {
    let dir: string;
    let run: Running;
    beforeAll(async () => {
      dir = tempDir();
      run = await serveRecipe(dir, 'session-memory.mjs', ['sticky=true']);
    });
    afterAll(async () => {
      await run?.nginx.stop();
      await run?.server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('keeps a login for 3 x 8 parallel requests', async () => {
      expect(await loginAndAsk(run.nginx)).toEqual(Array(24).fill(200));
    });
  });

  describe('socketio.mjs with sticky=true', () => {
    let dir: string;
    let run: Running;
    beforeAll(async () => {
      dir = tempDir();
      run = await serveRecipe(dir, 'socketio.mjs', ['sticky=true']);
    });
    afterAll(async () => {
      await run?.nginx.stop();
      await run?.server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('answers 3 clients x 10 acked messages without a reconnect', async () => {
      const results = await Promise.all(Array.from({ length: 3 }, async () => {
        const socket = connect(run.nginx.url('/'), { transports: ['polling'], withCredentials: true, timeout: 20_000 });
        let reconnects = 0;
        socket.io.on('reconnect_attempt', () => reconnects++);
        try {
          await new Promise<void>((resolve, reject) => {
            socket.once('connect', () => resolve());
            socket.once('connect_error', reject);
          });
          const answers: number[] = [];
          for (let i = 0; i < 10; i++) answers.push((await socket.timeout(20_000).emitWithAck('double', i)) as number);
          return { answers, reconnects };
        } finally {
          socket.disconnect();
        }
      }));
      for (const r of results) expect(r).toEqual({ answers: Array.from({ length: 10 }, (_, i) => i * 2), reconnects: 0 });
    });
  });

  describe.runIf(need('redis-server'))('session-redis.mjs, without sticky=true', () => {
    let dir: string;
    let redis: ChildProcess;
    let run: Running;
    beforeAll(async () => {
      dir = tempDir();
      const port = await freePort();
      redis = spawn(which('redis-server')!, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
      await waitForListen(port);
      run = await serveRecipe(dir, 'session-redis.mjs', [`env=REDIS_URL=redis://127.0.0.1:${port}`]);
    });
    afterAll(async () => {
      await run?.nginx.stop();
      await run?.server.stop();
      redis?.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('keeps a login for 3 x 8 parallel requests, and across a reload', async () => {
      const jar = new Jar();
      expect((await jar.fetch(run.nginx.url('/login'), { method: 'POST' })).status).toBe(200);
      expect((await parallelRounds(jar, run.nginx.url('/me'), 3, 8)).statuses).toEqual(Array(24).fill(200));
      const old = (JSON.parse(runSync(['status', '--json', `socket=${run.sock}`]).stdout) as { workers: { id: number }[] }).workers.map((w) => w.id);
      run.server.child.kill('SIGHUP');
      await waitFor(() => {
        const r = runSync(['status', '--json', `socket=${run.sock}`]);
        const workers = r.code === 0 ? (JSON.parse(r.stdout) as { workers: { id: number; state: string }[] }).workers : [];
        return workers.length === 2 && workers.every((w) => !old.includes(w.id) && w.state === 'ready');
      }, 90_000, 'fresh workers only');
      expect((await parallelRounds(jar, run.nginx.url('/me'), 1, 8)).statuses).toEqual(Array(8).fill(200));
    });
  });
});
