// `runfcgi status`, `reload` and `stop` against a real running server, and what they say when
// nothing runs, the pidfile is stale, or the user may not open the control socket.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isAlive, waitFor } from '../helpers/load.js';
import { installProject, needNodeForWwwData } from '../helpers/project.js';
import { BIN, FIXTURES, needRoot, start, tempDir, waitForListen, type Started } from '../helpers/run.js';

const CONTROL = path.join(FIXTURES, 'control-app.mjs');
const asRoot = needRoot('the control socket tests as another user');

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `runfcgi ...args` without blocking the test's event loop. */
function runfcgi(args: string[], options: { uid?: number; gid?: number; bin?: string } = {}): Promise<Ran> {
  const { bin = BIN, ...ids } = options;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...ids });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe.each(['prefork', 'threaded'] as const)('runfcgi status, reload, stop (method=%s)', (method) => {
  let dir: string;
  let sock: string;
  let pidfile: string;
  let server: Started | undefined;

  beforeEach(() => {
    dir = tempDir();
    sock = path.join(dir, 'app.sock');
    pidfile = path.join(dir, 'app.pid');
  });
  afterEach(async () => {
    await server?.stop('SIGINT');
    server = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function boot(...args: string[]): Promise<Started> {
    server = start([`app=${CONTROL}`, `socket=${sock}`, `pidfile=${pidfile}`, `method=${method}`, ...args]);
    await waitForListen(sock);
    await waitFor(() => fs.existsSync(pidfile), 60_000, 'the pidfile');
    return server;
  }

  it('shows the pool as a table, and as JSON, through pidfile= or socket=; the control socket is 0600', async () => {
    const s = await boot('minspare=2', 'maxspare=2', 'maxchildren=2');
    await waitFor(async () => JSON.parse((await runfcgi(['status', `pidfile=${pidfile}`, '--json'])).stdout).workers.length === 2, 60_000, 'two workers');
    for (const where of [`pidfile=${pidfile}`, `socket=${sock}`]) {
      const table = await runfcgi(['status', where]);
      expect(table.code).toBe(0);
      expect(table.stdout).toContain(`runfcgi master ${s.child.pid} on unix:${sock}: ${method}, pm=dynamic`);
      expect(table.stdout).toMatch(/^WORKER\s+(PID|THREAD)\s+STATE\s+REQUESTS\s+IN PROGRESS\s+MEMORY\s+LAG\s+UPTIME$/m);
      expect(table.stdout).toMatch(/^1\s+\d+\s+(ready|busy)\s+\d+\s+\d+\s+[\d.]+ MB\s+\d+ ms\s+\d+s$/m);
      expect(table.stdout).toMatch(/^2\s+\d+\s+(ready|busy)/m);
    }
    const json = JSON.parse((await runfcgi(['status', `socket=${sock}`, '--json'])).stdout) as Record<string, unknown> & { workers: Record<string, unknown>[] };
    expect(json).toMatchObject({ pid: s.child.pid, pool: `unix:${sock}`, method, pm: 'dynamic', asleep: false, totalWorkers: 2 });
    expect(json.workers[0]).toMatchObject({ id: 1 });
    expect(['ready', 'busy']).toContain(json.workers[0]!.state);
    expect(json.workers[0]!.memoryBytes).toBeGreaterThan(1_000_000);
    for (const file of [`${pidfile}.control`, `${sock}.control`]) expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  });

  it('--watch refreshes every second until Ctrl+C', async () => {
    await boot();
    const child = spawn(process.execPath, [BIN, 'status', '--watch', `pidfile=${pidfile}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    await waitFor(() => out.split('(every second; Ctrl+C to stop)').length > 3, 60_000, 'three refreshes');
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(out).toContain('WORKER');
  });

  it('reload sends HUP and returns once fresh workers serve; stop sends INT (no wait for a successor) and returns once the server is gone', async () => {
    const s = await boot('minspare=2', 'maxspare=2', 'maxchildren=2');
    await waitFor(async () => JSON.parse((await runfcgi(['status', `pidfile=${pidfile}`, '--json'])).stdout).workers.filter((w: { state: string }) => w.state === 'ready').length === 2, 60_000, 'two workers');
    const reloaded = await runfcgi(['reload', `pidfile=${pidfile}`]);
    expect(reloaded).toMatchObject({ code: 0, stdout: `runfcgi (pid ${s.child.pid}) reloaded: workers 3, 4 replace 1, 2\n` });
    const after = JSON.parse((await runfcgi(['status', `socket=${sock}`, '--json'])).stdout) as { workers: { id: number }[] };
    expect(after.workers.map((w) => w.id)).toEqual([3, 4]);
    const stopped = await runfcgi(['stop', `socket=${sock}`]);
    expect(stopped).toMatchObject({ code: 0, stdout: `runfcgi (pid ${s.child.pid}) stopped\n` });
    expect(isAlive(s.child.pid!)).toBe(false);
    for (const file of [pidfile, `${pidfile}.control`, `${sock}.control`, sock]) expect(fs.existsSync(file)).toBe(false);
    server = undefined;
  });

  it('says that no worker runs while a pm=ondemand pool sleeps', async () => {
    await boot('pm=ondemand', 'processidletimeout=1');
    await waitFor(async () => (await runfcgi(['status', `pidfile=${pidfile}`])).stdout.includes('No worker runs: the pool sleeps until a connection comes (pm=ondemand).'), 60_000, 'the pool asleep');
    const json = JSON.parse((await runfcgi(['status', `pidfile=${pidfile}`, '--json'])).stdout) as Record<string, unknown>;
    expect(json).toMatchObject({ pm: 'ondemand', asleep: true, totalWorkers: 0, workers: [] });
  });

  it.runIf(asRoot && needNodeForWwwData())('a user other than the master\'s may not open the control socket', async () => {
    await boot();
    // That user runs runfcgi from a project it can read: a checkout in /root is closed to it.
    const project = installProject(path.join(dir, 'project'), CONTROL, 'app.mjs');
    const r = await runfcgi(['status', `socket=${sock}`], { uid: 65534, gid: 65534, bin: project.bin });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`runfcgi: cannot open ${sock}.control: permission denied; only the user the master runs as (uid 0) may: run this as that user\n`);
  });
});

describe('runfcgi status when nothing runs', () => {
  // A live process that is not runfcgi, for a pidfile that now names another program.
  let sleeper: ReturnType<typeof spawn> | undefined;
  const other = (): ReturnType<typeof spawn> => (sleeper ??= spawn('sleep', ['60'], { stdio: 'ignore' }));
  afterAll(() => void sleeper?.kill());

  it.each([
    ['a pidfile that does not exist', (d: string) => [`pidfile=${d}/none.pid`], /^runfcgi: nothing runs with pidfile=.*none\.pid: the file does not exist\n$/],
    ['a stale pidfile (process gone)', (d: string) => (fs.writeFileSync(`${d}/stale.pid`, '999999\n'), [`pidfile=${d}/stale.pid`]), /^runfcgi: pidfile=.*stale\.pid is stale: process 999999 is gone/],
    ['a stale pidfile (another program)', (d: string) => (fs.writeFileSync(`${d}/other.pid`, `${other().pid}\n`), [`pidfile=${d}/other.pid`]), /^runfcgi: pidfile=.*other\.pid is stale: process \d+ is not runfcgi/],
    ['a socket path where nothing runs', (d: string) => [`socket=${d}/none.sock`], /^runfcgi: nothing runs at socket=.*none\.sock\n$/],
  ])('%s: one clear line, exit 1 (status, reload and stop alike)', async (_what, args, message) => {
    const d = tempDir();
    try {
      for (const command of ['status', 'reload', 'stop']) {
        const r = await runfcgi([command, ...args(d)]);
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(message);
      }
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  });

  it.each([
    [['status'], /^runfcgi: runfcgi status needs pidfile= or socket=, as the server was started/],
    [['stop', 'host=127.0.0.1', 'port=3033'], /^runfcgi: runfcgi stop needs pidfile= or socket=/],
    [['status', '--jsn', 'pidfile=/tmp/x.pid'], /^runfcgi: unknown option 'jsn'/],
    [['reload', 'pidfile='], /^runfcgi: pidfile=: expected a file path/],
  ])('%j is a usage error: exit 2', async (args, message) => {
    const r = await runfcgi(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });
});
