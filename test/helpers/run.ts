// Starting the real runfcgi command in tests, and waiting for it.

import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '../..');
export const BIN = path.join(ROOT, 'bin/runfcgi');
export const FIXTURES = path.join(ROOT, 'test/fixtures');

export function runSync(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000, ...options });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function tempDir(prefix = 'runfcgi-test-'): string {
  // Short paths: UNIX socket paths are limited to 107 bytes.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(dir, 0o755);
  return dir;
}

export interface Started {
  child: ChildProcess;
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Starts runfcgi in the foreground with `args`; stop() signals it (SIGINT by
 * default) and waits for the exit. `bin`: another copy's launcher (a
 * project's node_modules/.bin/runfcgi); always on the Node running the tests.
 */
export function start(args: string[], options: SpawnOptions = {}, bin = BIN, wrapper: string[] = []): Started {
  // `wrapper`: a command that execs the rest (unshare ...): the child is still runfcgi's master.
  const [command, ...argv] = [...wrapper, process.execPath, bin, 'daemonize=false', ...args];
  const child = spawn(command!, argv, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    output: () => out,
    // SIGINT: as graceful as SIGTERM, without its wait for a successor to take the socket.
    async stop(signal: NodeJS.Signals = 'SIGINT') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Ends what is left of a process group started with `detached: true` (a web server's workers). */
export function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Gone already.
  }
}

/** Resolves once something accepts connections at `target` (socket path or port). */
export async function waitForListen(target: string | number, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = typeof target === 'number' ? net.connect(target, '127.0.0.1') : net.connect(target);
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listening on ${target} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A TCP port free right now on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

/** Finds a program on PATH or in the sbin directories where Debian puts servers. */
export function which(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin', '/usr/local/sbin'];
  for (const dir of dirs) {
    const p = path.join(dir, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * Whether tests needing `name` run. Locally a missing server skips them with
 * a message; in CI (CI=true) a missing server is a failure, never a skip.
 */
export function need(name: string): boolean {
  if (which(name) !== undefined) return true;
  if (process.env.CI) throw new Error(`${name} is not installed, and CI must not skip: .ci/run should apt-get install it`);
  console.warn(`skipping tests that need ${name}: not installed (apt-get install it to run them)`);
  return false;
}

/**
 * Whether tests that need root run (they change user, own sockets, make network namespaces).
 * Locally, as another user, they skip with a message; CI runs as root, so there a skip is a failure.
 */
export function needRoot(what: string): boolean {
  if (process.getuid?.() === 0) return true;
  if (process.env.CI) throw new Error(`${what} need root, and CI must not skip: run .ci/run as root`);
  console.warn(`skipping ${what}: they need root`);
  return false;
}
