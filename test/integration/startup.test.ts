// Start-up that takes seconds: the launcher waits for a ready app; one that throws or hangs stops runfcgi with exit 4.

import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cgiFcgi } from '../helpers/cgi-fcgi.js';
import { waitFor } from '../helpers/load.js';
import { FIXTURES, need, runSync, start, tempDir } from '../helpers/run.js';

const SLOW = path.join(FIXTURES, 'slow-start.mjs');
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function socket(): string {
  const dir = tempDir();
  dirs.push(dir);
  return path.join(dir, 'app.sock');
}

/** runfcgi in the foreground, to its exit: status, output, and how many workers it started. */
function runToExit(args: string[]): { code: number | null; stderr: string; starts: number } {
  const r = runSync(['daemonize=false', `app=${SLOW}`, ...args], { env: { ...process.env } });
  return { code: r.code, stderr: r.stderr, starts: (r.stderr.match(/"worker starting"/g) ?? []).length };
}

describe.each(['prefork', 'threaded'])('start-up under method=%s', (method) => {
  it.runIf(need('cgi-fcgi'))('the launcher returns only once the app is ready: the first request is answered', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const socket = path.join(dir, 'app.sock');
    const pidfile = path.join(dir, 'pid');
    const launchedAt = Date.now();
    // Daemonized: the launcher exits 0 only when a worker reported ready.
    const r = runSync([`app=${SLOW}`, `method=${method}`, `socket=${socket}`, `pidfile=${pidfile}`, 'env=START_MS=2500', `errlog=${dir}/err.log`]);
    expect(r.code, r.stderr).toBe(0);
    try {
      const answer = await cgiFcgi(socket, { REQUEST_URI: '/', SCRIPT_NAME: '' });
      expect(answer.status).toBe(200);
      const startedAt = Number(/started (\d+)/.exec(answer.body.toString())?.[1]);
      expect(startedAt - launchedAt).toBeGreaterThanOrEqual(2500);
    } finally {
      process.kill(Number(fs.readFileSync(pidfile, 'utf8')), 'SIGINT');
    }
  });

  it('an app whose start-up throws after seconds stops runfcgi with exit 4 and its error, without restarting it', () => {
    const r = runToExit([`method=${method}`, `socket=${socket()}`, 'minspare=2', 'env=START_MS=1500', 'env=START_FAILS=1']);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/runfcgi: app=.*slow-start\.mjs failed to load: Error: start-up failed after 1500 ms/);
    expect(r.starts).toBe(2);
  });

  it('an app whose start-up hangs stops runfcgi with exit 4 after starttimeout=, without restarting it', () => {
    const r = runToExit([`method=${method}`, `socket=${socket()}`, 'minspare=2', 'starttimeout=2', 'env=START_MS=10', 'env=START_HANGS=1']);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/runfcgi: app=.*slow-start\.mjs did not become ready within starttimeout=2 s: its start-up hangs, or needs a longer starttimeout=\n$/);
    expect(r.starts).toBe(2);
  });
});

describe('starttimeout=', () => {
  it.each([['starttimeout=0'], ['starttimeout=soon'], ['starttimeout=3601']])('%s is refused with a one-line error and exit 2', (arg) => {
    const r = runSync([arg]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^runfcgi: ${arg}: expected a whole number from 1 to 3600`));
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe('the clean environment at start', () => {
  it("logs the names, never the values, of the variables the workers do not get, and how to pass them", async () => {
    const server = start(['app=' + SLOW, `socket=${socket()}`, 'env=START_MS=0', 'env=ORIGIN'], {
      env: { ...process.env, ORIGIN: 'http://127.0.0.1:8080', DATABASE_URL: 'postgres://user:hunter2@db/x' },
    });
    try {
      // The line comes just after 'runfcgi is listening', maybe in a later write: wait for it itself.
      await waitFor(() => server.output().includes('environment is clean'), 60_000, 'the clean-environment line');
      const line = server.output().split('\n').find((l) => l.includes('environment is clean')) ?? '';
      expect(line).toContain('DATABASE_URL');
      expect(line).toContain('env=NAME passes one, env=NAME=value sets one');
      expect(line).not.toContain('ORIGIN');
      expect(server.output()).not.toContain('hunter2');
    } finally {
      await server.stop();
    }
  });
});
