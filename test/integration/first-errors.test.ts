// The errors a newcomer meets first, each as the exact line the terminal shows (issue 26): an app that
// listens itself, a syntax error, a worker that dies before serving under a daemon, an unknown command.

import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tagged } from '../helpers/processes.js';
import { FIXTURES, runSync, tempDir } from '../helpers/run.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function dir(): string {
  const d = tempDir();
  dirs.push(d);
  return d;
}

/** runfcgi with `args`, tagged so that the test can see nothing of it is left running. */
function run(args: string[]): { code: number | null; stderr: string; left: number[] } {
  const tag = `first-errors-${process.pid}-${Math.random().toString(36).slice(2)}`;
  const r = runSync(args, { env: { ...process.env, RUNFCGI_TEST_TAG: tag } });
  return { code: r.code, stderr: r.stderr, left: tagged(tag) };
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(false)));
    s.once('error', () => resolve(true));
  });
}

describe('the first errors, clear', () => {
  const listens = path.join(FIXTURES, 'listens-itself.mjs');

  it.each(['prefork', 'threaded'])('an app that calls listen() itself: one line naming the fix, exit 4, one worker tried, nothing left (%s, daemon)', async (method) => {
    const d = dir();
    const errlog = path.join(d, 'err.log');
    const r = run([`app=${listens}`, `socket=${d}/a.sock`, `method=${method}`, 'minspare=1', 'maxspare=1', `errlog=${errlog}`]);
    expect(r.stderr).toBe(
      `runfcgi: app=${listens} calls listen() itself (port 3999, at ${listens}:5:24): runfcgi listens and passes the requests to the app; export the app instead (export default app) and do not call listen()\n`,
    );
    expect(r.code).toBe(4);
    expect(r.left).toEqual([]);
    // No crash loop: the one worker started, failed, and the master stopped.
    expect(fs.readFileSync(errlog, 'utf8').match(/worker starting/g)).toHaveLength(1);
    expect(await refused(3999)).toBe(true);
  });

  it('a syntax error names the app file and line', () => {
    const d = dir();
    const app = path.join(FIXTURES, 'syntax-error.mjs');
    const r = run([`app=${app}`, `socket=${d}/b.sock`, 'minspare=1', 'maxspare=1']);
    expect(r.stderr).toBe(`runfcgi: app=${app} failed to load: SyntaxError: missing ) after argument list (at ${app}:4)\n`);
    expect(r.code).toBe(4);
    expect(r.left).toEqual([]);
  });

  it('an error thrown while loading names the app file, line and column', () => {
    const app = path.join(FIXTURES, 'throws-at-load.mjs');
    const r = run([`app=${app}`, 'daemonize=false', `socket=${dir()}/c.sock`, 'minspare=1', 'maxspare=1', 'loglevel=silent']);
    const line = fs.readFileSync(app, 'utf8').split('\n').findIndex((l) => l.includes('throw ')) + 1;
    expect(r.stderr.split('\n')[0]).toMatch(new RegExp(`^runfcgi: app=${app.replace(/[.]/g, '\\.')} failed to load: Error: database password missing \\(at ${app.replace(/[.]/g, '\\.')}:${line}:\\d+\\)$`));
    expect(r.code).toBe(4);
  });

  it('a daemon whose worker dies before serving says where its log is: nowhere without errlog=, else the file', () => {
    const app = path.join(FIXTURES, 'exits-at-load.mjs');
    const d = dir();
    const bare = run([`app=${app}`, `socket=${d}/d.sock`, 'minspare=1', 'maxspare=1']);
    expect(bare.stderr).toBe('runfcgi: worker 1 exited before it could serve (code 7, signal null); its log went to /dev/null (no errlog=): start again with errlog=FILE, or with daemonize=false, to see why\n');
    expect(bare.code).toBe(3);
    const withLog = run([`app=${app}`, `socket=${d}/e.sock`, 'minspare=1', 'maxspare=1', `errlog=${d}/err.log`]);
    expect(withLog.stderr).toBe(`runfcgi: worker 1 exited before it could serve (code 7, signal null); see errlog=${d}/err.log\n`);
    const foreground = run([`app=${app}`, `socket=${d}/f.sock`, 'minspare=1', 'maxspare=1', 'daemonize=false', 'loglevel=silent']);
    expect(foreground.stderr).toBe('runfcgi: worker 1 exited before it could serve (code 7, signal null); see the log above\n');
    expect([bare.left, withLog.left, foreground.left]).toEqual([[], [], []]);
  });

  it('an unknown command lists the real ones', () => {
    const r = run(['start', 'app=./app.js']);
    expect(r.stderr).toBe("runfcgi: unknown command 'start': runfcgi takes key=value options (runfcgi app=./app.js socket=./mysite.sock) or one of the commands help, check, status, reload, stop, ping (see 'runfcgi help')\n");
    expect(r.code).toBe(2);
  });
});
