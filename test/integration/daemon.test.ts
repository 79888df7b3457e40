// daemonize and the pidfile: a start that returns once serving, a relaunch that always works (the restart script: restart.test.ts).

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it, onTestFinished } from 'vitest';
import { cgiFcgi } from '../helpers/cgi-fcgi.js';
import { waitFor } from '../helpers/load.js';
import { children, readPid, running, tagged } from '../helpers/processes.js';
import { FIXTURES, freePort, runSync, tempDir } from '../helpers/run.js';

const CONTROL = path.join(FIXTURES, 'control-app.mjs');
const dirs: string[] = [];
const pidfiles: string[] = [];

function dir(): string {
  const d = tempDir();
  dirs.push(d);
  return d;
}

function stat(pid: number): { ppid: number; sid: number; tty: number } {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  return { ppid: Number(fields[1]), sid: Number(fields[3]), tty: Number(fields[4]) };
}

function daemon(args: string[], cwd?: string) {
  const r = runSync(args, { cwd });
  const pidfile = args.find((a) => a.startsWith('pidfile='))?.slice(8);
  if (pidfile) pidfiles.push(path.resolve(cwd ?? process.cwd(), pidfile));
  return r;
}

afterEach(async () => {
  for (const file of pidfiles.splice(0)) {
    try {
      const pid = readPid(file);
      process.kill(pid, 'SIGQUIT');
      await waitFor(() => !running(pid), 30_000, `pid ${pid} gone`);
    } catch {
      // not running
    }
  }
});
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

describe('daemonize', () => {
  it('returns once the daemon answers; the daemon is a session leader with no terminal, parent init, cwd workdir', async () => {
    const d = dir();
    const sock = path.join(d, 'app.sock');
    const r = daemon([`app=${CONTROL}`, `socket=${sock}`, `pidfile=${d}/app.pid`]);
    expect(r.code).toBe(0);
    // The launcher returned: the socket answers already.
    expect((await cgiFcgi(sock, { REQUEST_URI: '/hello' })).body.toString()).toBe('hello\n');
    const pid = readPid(`${d}/app.pid`);
    expect(fs.readFileSync(`${d}/app.pid`, 'utf8')).toBe(`${pid}\n`);
    const s = stat(pid);
    expect(s.sid).toBe(pid);
    expect(s.tty).toBe(0);
    expect(s.ppid).not.toBe(process.pid);
    expect(fs.readlinkSync(`/proc/${pid}/cwd`)).toBe('/');
    expect(fs.readlinkSync(`/proc/${pid}/fd/0`)).toBe('/dev/null');
    expect(fs.statSync(sock).mode & 0o777).toBe(0o755);
  });

  it("passes NODE_EXTRA_CA_CERTS on to the workers, though the daemon boots without it", async () => {
    const d = dir();
    const sock = path.join(d, 'app.sock');
    const certs = path.join(d, 'extra-ca.pem');
    fs.writeFileSync(certs, '');
    const r = runSync([`app=${CONTROL}`, `socket=${sock}`, `pidfile=${d}/app.pid`], { env: { ...process.env, NODE_EXTRA_CA_CERTS: certs } });
    pidfiles.push(`${d}/app.pid`);
    expect(r.code).toBe(0);
    const env = JSON.parse((await cgiFcgi(sock, { REQUEST_URI: '/env' })).body.toString()) as Record<string, string>;
    expect(env.NODE_EXTRA_CA_CERTS).toBe(certs);
  });

  it('resolves relative paths against the starting directory before changing to workdir', async () => {
    const d = dir();
    fs.copyFileSync(CONTROL, path.join(d, 'app.mjs'));
    const r = daemon(['app=./app.mjs', 'socket=./rel.sock', 'pidfile=rel.pid', 'errlog=err.log'], d);
    expect(r.code).toBe(0);
    expect((await cgiFcgi(path.join(d, 'rel.sock'), { REQUEST_URI: '/hello' })).status).toBe(200);
    expect(fs.readFileSync(path.join(d, 'err.log'), 'utf8')).toContain('runfcgi is listening');
  });

  it.each([
    ['an app that fails to load', (d: string) => [`app=${FIXTURES}/throws-at-load.mjs`, `socket=${d}/a.sock`], 4, /failed to load: Error: database password missing/],
    ['a socket directory that does not exist', (d: string) => [`socket=${d}/missing/a.sock`], 1, /directory .*missing does not exist/],
    ['a socket where it may not be created', () => ['socket=/proc/runfcgi-test.sock'], 1, /cannot listen on \/proc\/runfcgi-test\.sock: permission denied/],
    ['a pidfile in a directory that does not exist', (d: string) => [`socket=${d}/b.sock`, `pidfile=${d}/missing/x.pid`], 1, /cannot write pidfile=.*missing\/x\.pid: its directory does not exist/],
    ['a pidfile in a read-only directory', (d: string) => {
      // Root ignores mode bits: take a directory of a file system that refuses (sysfs).
      if (process.getuid?.() === 0) return [`socket=${d}/r.sock`, 'pidfile=/sys/kernel/runfcgi-test.pid'];
      fs.mkdirSync(`${d}/ro`, { mode: 0o555 });
      return [`socket=${d}/r.sock`, `pidfile=${d}/ro/x.pid`];
    }, 1, /cannot write pidfile=.*: permission denied/],
    ['a workdir that does not exist', (d: string) => [`socket=${d}/c.sock`, `workdir=${d}/nowhere`], 1, /workdir=.*nowhere: no such directory/],
    ['an errlog that cannot be opened', (d: string) => [`socket=${d}/e.sock`, `errlog=${d}/nowhere/err.log`], 1, /cannot open errlog=.*: its directory does not exist/],
  ])('the launcher fails with the reason for %s, and leaves nothing running', (_what, args, code, message) => {
    const d = dir();
    const tag = `t${process.pid}-${Date.now()}`;
    const r = runSync(args(d), { env: { ...process.env, RUNFCGI_TEST_TAG: tag } });
    expect(r.code).toBe(code);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')[0]).toMatch(/^runfcgi: /);
    expect(fs.readdirSync(d).filter((f) => f.endsWith('.sock') || f.endsWith('.pid'))).toEqual([]);
    expect(tagged(tag)).toEqual([]);
  });

  it.each(['errlog', 'accesslog'])('a foreground start with an %s that cannot be opened fails with one line, no stack trace', (option) => {
    const d = dir();
    const r = runSync(['daemonize=false', `socket=${d}/f.sock`, `${option}=${d}/nowhere/x.log`]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(new RegExp(`^runfcgi: .*cannot open ${option}=.*nowhere/x\\.log: its directory does not exist`, 'm'));
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('the launcher fails when the port is in use', async () => {
    const blocker = net.createServer().listen(0, '127.0.0.1');
    await new Promise((r) => blocker.once('listening', r));
    const { port } = blocker.address() as net.AddressInfo;
    const r = runSync([`host=127.0.0.1`, `port=${port}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(`cannot listen on 127.0.0.1:${port}: address already in use`);
    blocker.close();
  });
});

describe('pidfile', () => {
  it('refuses a second start while the first runs, naming pid and file (exit 1)', () => {
    const d = dir();
    expect(daemon([`socket=${d}/a.sock`, `pidfile=${d}/app.pid`]).code).toBe(0);
    const pid = readPid(`${d}/app.pid`);
    const r = runSync([`socket=${d}/b.sock`, `pidfile=${d}/app.pid`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`runfcgi is already running as pid ${pid} (pidfile=${d}/app.pid)`);
    expect(readPid(`${d}/app.pid`)).toBe(pid);
  });

  it('replaces a stale pidfile: a dead pid, or a pid now used by another program', async () => {
    const d = dir();
    // Another program: sleep, not this test's own process, whose command line names the
    // checkout's path (a clone in a folder called runfcgi looks like runfcgi to the check).
    const other = spawn('sleep', ['300'], { stdio: 'ignore' });
    onTestFinished(() => void other.kill());
    for (const stale of ['999999', String(other.pid)]) {
      fs.writeFileSync(`${d}/app.pid`, `${stale}\n`);
      expect(daemon([`socket=${d}/a.sock`, `pidfile=${d}/app.pid`, `errlog=${d}/err.log`]).code).toBe(0);
      const pid = readPid(`${d}/app.pid`);
      expect(pid).not.toBe(Number(stale));
      expect(fs.readFileSync(`${d}/err.log`, 'utf8')).toContain('stale pidfile');
      process.kill(pid, 'SIGQUIT');
      await waitFor(() => !running(pid), 30_000, `pid ${pid} gone`);
    }
  });

  it('is removed on a clean stop, with the socket', async () => {
    const d = dir();
    expect(daemon([`socket=${d}/a.sock`, `pidfile=${d}/app.pid`]).code).toBe(0);
    const pid = readPid(`${d}/app.pid`);
    process.kill(pid, 'SIGTERM');
    await waitFor(() => !running(pid), 30_000, 'stopped');
    expect(fs.existsSync(`${d}/app.pid`)).toBe(false);
    expect(fs.existsSync(`${d}/a.sock`)).toBe(false);
  });

  it.each(['unix', 'tcp'])('after kill -9 (%s), a relaunch works at once despite the stale pidfile, lock and socket', async (transport) => {
    const d = dir();
    const where = transport === 'unix' ? [`socket=${d}/a.sock`] : ['host=127.0.0.1', `port=${await freePort()}`];
    expect(daemon([...where, `pidfile=${d}/app.pid`, `app=${CONTROL}`]).code).toBe(0);
    const pid = readPid(`${d}/app.pid`);
    const workers = children(pid);
    process.kill(pid, 'SIGKILL');
    await waitFor(() => workers.every((w) => !running(w)), 30_000, 'workers gone');
    const r = daemon([...where, `pidfile=${d}/app.pid`, `app=${CONTROL}`]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const address = transport === 'unix' ? `${d}/a.sock` : `127.0.0.1:${where[1]!.slice(5)}`;
    expect((await cgiFcgi(address, { REQUEST_URI: '/hello' })).body.toString()).toBe('hello\n');
  });
});
