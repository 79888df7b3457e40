// socket.io's long-polling sessions through real nginx with two workers: sticky=true keeps each in its worker.

import fs from 'node:fs';
import path from 'node:path';
import { io as connect, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nginxInFront, type Nginx } from '../helpers/nginx.js';
import { FIXTURES, need, runSync, start, tempDir, waitForListen, type Started } from '../helpers/run.js';
import { waitFor } from '../helpers/load.js';

const APP = path.join(FIXTURES, 'state/socketio.mjs');

interface Session {
  acked: number;
  workers: Set<string>;
  reconnects: number;
  errors: string[];
}

/** One client: connects (polling only, cookies kept), sends `count` messages one after another, each acked. */
async function session(url: string, count: number): Promise<Session> {
  const out: Session = { acked: 0, workers: new Set(), reconnects: 0, errors: [] };
  // withCredentials: a Node client keeps cookies (the route cookie) only so; a browser always does.
  const socket: Socket = connect(url, { transports: ['polling'], withCredentials: true, reconnectionDelay: 100, timeout: 20_000 });
  socket.io.on('reconnect_attempt', () => out.reconnects++);
  socket.on('connect_error', (error) => out.errors.push(error.message));
  socket.on('disconnect', (reason) => out.errors.push(`disconnect: ${reason}`));
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      setTimeout(() => reject(new Error(`no connection: ${out.errors.join(', ')}`)), 30_000).unref();
    });
    for (let i = 0; i < count; i++) {
      const answer = (await socket.timeout(20_000).emitWithAck('double', i)) as { n: number; worker: string };
      if (answer.n === i * 2) out.acked++;
      out.workers.add(answer.worker);
    }
  } catch (error) {
    out.errors.push((error as Error).message);
  } finally {
    socket.io.off('reconnect_attempt');
    socket.off('disconnect');
    socket.disconnect();
  }
  return out;
}

describe.runIf(need('nginx'))('socket.io (long-polling) with sticky=true, two workers behind nginx', () => {
  for (const method of ['prefork', 'threaded']) {
    describe(method, () => {
      let dir: string;
      let server: Started;
      let nginx: Nginx;
      beforeAll(async () => {
        dir = tempDir();
        const sock = path.join(dir, 'app.sock');
        server = start([`app=${APP}`, `socket=${sock}`, `method=${method}`, 'maxchildren=2', 'minspare=2', 'maxspare=2', 'sticky=true']);
        await waitForListen(sock);
        await waitFor(() => {
          const r = runSync(['status', '--json', `socket=${sock}`]);
          return r.code === 0 && (JSON.parse(r.stdout) as { workers: { state: string }[] }).workers.filter((w) => w.state === 'ready').length === 2;
        }, 60_000, 'two workers ready');
        nginx = await nginxInFront(dir, `unix:${sock}`);
      });
      afterAll(async () => {
        await nginx?.stop();
        await server?.stop();
        fs.rmSync(dir, { recursive: true, force: true });
      });

      it('5 sessions x 20 acked messages all complete, none reconnects, each stays in one worker', async () => {
        const sessions = await Promise.all(Array.from({ length: 5 }, () => session(nginx.url('/'), 20)));
        for (const s of sessions) {
          expect(s.errors).toEqual([]);
          expect(s.acked).toBe(20);
          expect(s.reconnects).toBe(0);
          expect(s.workers.size).toBe(1);
        }
      });
    });
  }
});
