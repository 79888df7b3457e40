// Listening: stale and live UNIX sockets, files in the way, fd 0 from spawn-fcgi, malformed peers.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cgiFcgi } from '../helpers/cgi-fcgi.js';
import { request } from '../helpers/fcgi-records.js';
import { waitFor } from '../helpers/load.js';
import { need, runSync, start, tempDir, waitForListen, which, type Started } from '../helpers/run.js';

const started: Started[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const s of started.splice(0)) await s.stop('SIGKILL');
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function dir(): string {
  const d = tempDir();
  dirs.push(d);
  return d;
}

function run(args: string[]): Started {
  const s = start(args);
  started.push(s);
  return s;
}

/** Sends raw bytes on a new connection; resolves with what came back once the server closed it. */
function raw(address: string, bytes: Buffer): Promise<Buffer> {
  return new Promise((resolve) => {
    const out: Buffer[] = [];
    const s = net.connect(address, () => s.write(bytes));
    s.on('data', (d) => out.push(d));
    s.on('close', () => resolve(Buffer.concat(out)));
    s.on('error', () => {});
  });
}

describe('listening', () => {
  it('replaces a stale socket file nobody answers on', async () => {
    const d = dir();
    const sock = path.join(d, 'app.sock');
    // Leave a socket file behind as a crashed server would: libuv unlinks the
    // path it bound on close, so bind another name and move it into place.
    const stale = net.createServer().listen(`${sock}.tmp`);
    await new Promise((r) => stale.once('listening', r));
    fs.renameSync(`${sock}.tmp`, sock);
    await new Promise((r) => stale.close(r));
    expect(fs.lstatSync(sock).isSocket()).toBe(true);
    run([`socket=${sock}`]);
    await waitForListen(sock);
    expect((await cgiFcgi(sock, { REQUEST_URI: '/' })).status).toBe(200);
  });

  it('refuses a socket path another server answers on, exit 1, and leaves it alone', async () => {
    const d = dir();
    const sock = path.join(d, 'app.sock');
    const live = net.createServer((c) => c.end()).listen(sock);
    await new Promise((r) => live.once('listening', r));
    const r = runSync(['daemonize=false', `socket=${sock}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot listen on .*app\.sock: another server is answering on it/);
    expect(fs.existsSync(sock)).toBe(true);
    live.close();
  });

  it('refuses to replace a file that is not a socket', () => {
    const d = dir();
    const file = path.join(d, 'notes.txt');
    fs.writeFileSync(file, 'keep me');
    const r = runSync(['daemonize=false', `socket=${file}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/a file that is not a socket is in the way/);
    expect(fs.readFileSync(file, 'utf8')).toBe('keep me');
  });

  it('says which directory is missing', () => {
    const r = runSync(['daemonize=false', 'socket=/nonexistent-dir/app.sock']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/directory \/nonexistent-dir does not exist/);
  });

  it('names the address when the port is taken', async () => {
    const blocker = net.createServer().listen(0, '127.0.0.1');
    await new Promise((r) => blocker.once('listening', r));
    const { port } = blocker.address() as net.AddressInfo;
    const r = runSync(['daemonize=false', 'host=127.0.0.1', `port=${port}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot listen on 127.0.0.1:${port}: address already in use`);
    blocker.close();
  });

  it('listens on IPv6 loopback', async () => {
    const probe = net.createServer().listen(0, '::1');
    const ok = await new Promise<boolean>((r) => {
      probe.once('listening', () => r(true));
      probe.once('error', () => r(false));
    });
    if (!ok) return; // no IPv6 on this machine
    const { port } = probe.address() as net.AddressInfo;
    await new Promise((r) => probe.close(r));
    run(['host=::1', `port=${port}`]);
    await waitFor(async () => (await cgiFcgi(`[::1]:${port}`, { REQUEST_URI: '/' }).catch(() => undefined))?.status === 200, 30_000, 'an answer on [::1]');
  });

  it.runIf(need('spawn-fcgi'))('serves on the listening socket spawn-fcgi hands it on fd 0', async () => {
    const d = dir();
    const sock = path.join(d, 'spawned.sock');
    const child = spawn(which('spawn-fcgi')!, ['-n', '-s', sock, '--', process.execPath, path.resolve('bin/runfcgi')], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      await waitForListen(sock);
      const r = await cgiFcgi(sock, { REQUEST_URI: '/spawned', HTTP_HOST: 'localhost' });
      expect(r.status).toBe(200);
      expect(r.body.toString()).toContain('/spawned');
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  });

  it('closes only the connection that sends garbage, logs it, and serves the others', async () => {
    const d = dir();
    const sock = path.join(d, 'app.sock');
    const s = run([`socket=${sock}`]);
    await waitForListen(sock);
    const garbage = await raw(sock, Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    expect(garbage.length).toBe(0);
    const truncated = net.connect(sock);
    truncated.write(request(1, { REQUEST_URI: '/' }).subarray(0, 30));
    const answer = await cgiFcgi(sock, { REQUEST_URI: '/still-here' });
    expect(answer.status).toBe(200);
    truncated.end();
    await waitFor(() => /ended inside a record/.test(s.output()), 30_000, 'the truncated connection in the log');
    expect(s.output()).toMatch(/unsupported version 71.*closing connection after malformed input/);
    expect(s.output()).toMatch(/ended inside a record/);
    expect(s.child.exitCode).toBe(null);
  });

  it('stops on Ctrl+C (SIGINT) with exit 0 and removes its socket', async () => {
    const d = dir();
    const sock = path.join(d, 'app.sock');
    const s = run([`socket=${sock}`]);
    await waitForListen(sock);
    expect(await s.stop('SIGINT')).toBe(0);
    expect(fs.existsSync(sock)).toBe(false);
  });
});
