// runfcgi as a container's main process, in a PID namespace of its own (unshare): PID 1, or the child of catatonit.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseCgi, request, stdoutOf } from '../helpers/fcgi-records.js';
import { waitFor } from '../helpers/load.js';
import { children } from '../helpers/processes.js';
import { BIN, FIXTURES, need, tempDir, waitForListen } from '../helpers/run.js';

const asRoot = process.getuid?.() === 0;
// As a user, a user namespace mapped to root lets unshare make the PID namespace.
const UNSHARE = [...(asRoot ? [] : ['--user', '--map-root-user']), '--pid', '--fork', '--mount-proc'];
const APP = path.join(FIXTURES, 'control-app.mjs');

interface InNamespace {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
  /** The pid (seen from here) of the namespace's PID 1: runfcgi itself, or the init. */
  pid1(): Promise<number>;
}

/** `init`: a container init to run runfcgi under, as `podman run --init` does. */
function inNamespace(args: string[], init: string[] = []): InNamespace {
  const child = spawn('unshare', [...UNSHARE, ...init, process.execPath, BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    output: () => out,
    exited,
    async pid1() {
      await waitFor(() => children(child.pid!).length > 0, 30_000, 'the namespace\'s PID 1');
      return children(child.pid!)[0]!;
    },
  };
}

/** One FastCGI request (no keep-conn); resolves with the response, calls `onFirst` at its first bytes. */
function get(socket: string, uri: string, onFirst: () => void = () => {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = net.connect(socket);
    s.on('data', (d: Buffer) => {
      if (chunks.length === 0) onFirst();
      chunks.push(d);
    });
    s.on('error', reject);
    s.on('close', () => {
      const response = parseCgi(stdoutOf(Buffer.concat(chunks)));
      resolve({ status: response.status, body: response.body.toString() });
    });
    s.write(request(1, { REQUEST_METHOD: 'GET', REQUEST_URI: uri, SCRIPT_NAME: uri, SERVER_PROTOCOL: 'HTTP/1.1' }, '', false));
  });
}

let running: InNamespace | undefined;
let dir: string | undefined;

afterEach(async () => {
  if (running !== undefined && running.child.exitCode === null) {
    // SIGKILL to unshare's child, PID 1: the kernel ends the whole namespace with it.
    for (const pid of children(running.child.pid!)) process.kill(pid, 'SIGKILL');
    await running.exited;
  }
  running = undefined;
  if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe.runIf(need('unshare'))('as PID 1 of a PID namespace (a container without --init)', () => {
  it('serves in the foreground with socket= (no daemonize default), says orphans are not reaped, and a SIGTERM answers the request in flight, waits for no successor and exits 0', async () => {
    dir = tempDir();
    const socket = path.join(dir, 'app.sock');
    running = inNamespace([`app=${APP}`, `socket=${socket}`, 'minspare=1', 'maxspare=1']);
    await waitForListen(socket);
    await waitFor(() => running!.output().includes('not reaped'), 30_000, 'the orphan line');
    expect(running.output()).toMatch(/running as PID 1: processes the app leaves behind \(orphans\) are not reaped.*--init/);
    expect(running.output()).toMatch(/runfcgi is PID 1 \(the main process of a container\): SIGTERM stops without waiting for a successor master/);
    let reached!: () => void;
    const inApp = new Promise<void>((r) => (reached = r));
    const answer = get(socket, '/slow-stream?ms=1500', () => reached());
    await inApp;
    process.kill(await running.pid1(), 'SIGTERM');
    expect(await answer).toEqual({ status: 200, body: 'started\nslow 1500\n' });
    expect(await running.exited).toBe(0);
    expect(running.output()).not.toContain('once a successor takes the socket over');
    expect(fs.existsSync(socket)).toBe(false);
  });

  it('refuses daemonize=true with exit 2 and one line saying why, leaving no files behind', () => {
    dir = tempDir();
    const socket = path.join(dir, 'app.sock');
    const pidfile = path.join(dir, 'app.pid');
    const r = spawnSync('unshare', [...UNSHARE, process.execPath, BIN, `socket=${socket}`, `pidfile=${pidfile}`, 'daemonize=true'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^runfcgi: daemonize=true: runfcgi is PID 1 \(the main process of a container\), which ends when the launcher exits once the daemon serves; give daemonize=false .*\n$/);
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});

describe.runIf(need('unshare') && need('catatonit'))('as the child of a container init (podman run --init: catatonit)', () => {
  it('knows it is a container\'s main process: no orphan warning (the init reaps), and a SIGTERM through the init stops without waiting for a successor', async () => {
    dir = tempDir();
    const socket = path.join(dir, 'app.sock');
    running = inNamespace([`socket=${socket}`, 'minspare=1', 'maxspare=1'], ['catatonit', '--']);
    await waitForListen(socket);
    await waitFor(() => running!.output().includes('SIGTERM stops without waiting'), 30_000, 'the container line');
    expect(running.output()).toContain('the main process of a container (the child of catatonit, PID 1)');
    expect(running.output()).not.toContain('not reaped');
    // catatonit forwards the signal to its child, as `podman stop` relies on.
    process.kill(await running.pid1(), 'SIGTERM');
    expect(await running.exited).toBe(0);
    expect(running.output()).not.toContain('once a successor takes the socket over');
  });

  it('refuses daemonize=true there too: the init would end the container once the launcher exits', () => {
    dir = tempDir();
    const r = spawnSync('unshare', [...UNSHARE, 'catatonit', '--', process.execPath, BIN, `socket=${path.join(dir, 'app.sock')}`, 'daemonize=yes'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^runfcgi: daemonize=true: runfcgi is the main process of a container \(the child of catatonit, PID 1\), which ends when/);
  });
});
