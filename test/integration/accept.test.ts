// The listening socket every worker accepts on stays non-blocking, whatever a new or leaving worker does (issue 23).

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cgiFcgi } from '../helpers/cgi-fcgi.js';
import { isAlive, waitFor } from '../helpers/load.js';
import { children, tagged } from '../helpers/processes.js';
import { BIN, FIXTURES, need, start, tempDir, waitForListen, which, type Started } from '../helpers/run.js';

const GATED = path.join(FIXTURES, 'gated-boot.mjs');
const O_NONBLOCK = 0o4000;
/** __SO_ACCEPTCON in /proc/net/unix: a listening socket. */
const LISTENING = '00010000';

/**
 * Whether the listening UNIX socket under `dir` is non-blocking, as process
 * `pid` holds it. The flag belongs to the open file, which the master and
 * every worker share: what one of them sets, all of them get.
 */
function listeningNonBlocking(pid: number, dir: string): boolean {
  const inodes = new Set(fs.readFileSync('/proc/net/unix', 'utf8').split('\n').slice(1).map((line) => line.trim().split(/\s+/))
    .filter((f) => f[3] === LISTENING && f[7]?.startsWith(dir) && !f[7].endsWith('.control')).map((f) => f[6]));
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    const link = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
    if (!inodes.has(/^socket:\[(\d+)\]$/.exec(link)?.[1])) continue;
    const flags = /^flags:\s+([0-7]+)$/m.exec(fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'))![1]!;
    return (parseInt(flags, 8) & O_NONBLOCK) !== 0;
  }
  throw new Error(`process ${pid} holds no listening socket under ${dir}`);
}

const count = (text: string, what: string): number => text.split(what).length - 1;

describe('the listening socket', () => {
  let server: Started | undefined;
  let dir: string | undefined;
  let tag: string | undefined;
  afterEach(async () => {
    await server?.stop('SIGKILL');
    // spawn-fcgi's masters are init's children, not ours: found by the tag they inherit, with their workers.
    for (const pid of tag === undefined ? [] : tagged(tag).flatMap((master) => [master, ...children(master)])) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    tag = undefined;
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  // A blocking listening socket stalls whole workers: epoll wakes every worker
  // for a connection, one accepts it, and another's accept() then waits, its
  // event loop with it, until the next connection comes. Behind nginx, whose
  // kept-alive connections that worker holds, none may come: every request on
  // them waited for nginx's 60 s timeout (issue 23's "stalled" body). libuv makes
  // a child's fds 0-2 blocking before exec, so a worker must not get it there.
  it.runIf(need('cgi-fcgi'))('stays non-blocking while a new worker starts, and requests are answered meanwhile', async () => {
    dir = tempDir();
    const sock = path.join(dir, 'app.sock');
    const gate = path.join(dir, 'gate');
    server = start([`app=${GATED}`, `socket=${sock}`, 'maxchildren=2', 'minspare=1', 'maxspare=1', `env=BOOT_GATE=${gate}`]);
    await waitForListen(sock);
    await waitFor(() => count(server!.output(), '"worker ready"') === 1, 60_000, 'the first worker ready');
    expect(listeningNonBlocking(server.child.pid!, dir)).toBe(true);
    // One spare more (SIGTTIN): a second worker starts, and waits at the gate in its start-up.
    fs.writeFileSync(gate, '');
    process.kill(server.child.pid!, 'SIGTTIN');
    await waitFor(() => count(server!.output(), '"worker starting"') === 2, 60_000, 'a second worker starting');
    expect(listeningNonBlocking(server.child.pid!, dir), 'while a worker starts').toBe(true);
    const answer = await cgiFcgi(sock, { REQUEST_METHOD: 'GET', REQUEST_URI: '/' });
    expect(answer.body.toString()).toMatch(/^pid \d+\n$/);
    fs.rmSync(gate);
    await waitFor(() => count(server!.output(), '"worker ready"') === 2, 60_000, 'the second worker ready');
    expect(listeningNonBlocking(server.child.pid!, dir), 'once it serves').toBe(true);
    // One spare fewer (SIGTTOU): a worker leaves, and exits.
    process.kill(server.child.pid!, 'SIGTTOU');
    await waitFor(() => count(server!.output(), '"worker stopped"') === 1, 60_000, 'a worker stopped');
    expect(listeningNonBlocking(server.child.pid!, dir), 'once a worker left').toBe(true);
    expect((await cgiFcgi(sock, { REQUEST_METHOD: 'GET', REQUEST_URI: '/' })).body.toString()).toMatch(/^pid \d+\n$/);
  });

  // spawn-fcgi and web servers hand the socket over blocking, and Node's exit
  // (ResetStdio) puts fds 0-2 back as they were at its start when fd 0 is still
  // the same file: a master leaving made the socket blocking for every process
  // that still shares it, here the other master's workers.
  it.runIf(need('spawn-fcgi'))
    .each(['prefork', 'threaded'])('stays non-blocking for the other master on a socket spawn-fcgi -F 2 shares when one master stops (method=%s)', async (method) => {
      dir = tempDir();
      tag = `accept-${process.pid}-${method}`;
      const sock = path.join(dir, 'app.sock');
      const log = path.join(dir, 'errlog');
      const pids = path.join(dir, 'pids');
      const args = [process.execPath, BIN, `app=${GATED}`, `method=${method}`, 'maxchildren=1', 'minspare=1', 'maxspare=1', `errlog=${log}`];
      const spawned = spawnSync(which('spawn-fcgi')!, ['-F', '2', '-s', sock, '-P', pids, '--', ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, RUNFCGI_TEST_TAG: tag } });
      expect(spawned.status, spawned.stderr).toBe(0);
      const [first, second] = fs.readFileSync(pids, 'utf8').trim().split('\n').map(Number);
      const ready = (): number => count(fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '', '"worker ready"');
      await waitFor(() => ready() === 2, 60_000, "both masters' workers ready");
      expect(listeningNonBlocking(second!, dir), 'while both masters serve').toBe(true);
      process.kill(first!, 'SIGTERM');
      await waitFor(() => !isAlive(first!), 60_000, 'the first master gone');
      // A worker thread holds the master's fd 0; a worker process, its own fd 5.
      for (const pid of [second!, ...children(second!)]) expect(listeningNonBlocking(pid, dir), `in process ${pid} once the other master left`).toBe(true);
      expect((await cgiFcgi(sock, { REQUEST_METHOD: 'GET', REQUEST_URI: '/' })).body.toString()).toMatch(/^pid \d+\n$/);
    });
});
