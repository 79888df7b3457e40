// The Django restart script as shipped (scripts/restart.sh), run in a project directory of the test's own.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { waitFor } from './load.js';
import { readPid, running } from './processes.js';
import { BIN, ROOT } from './run.js';

/**
 * Prepares `dir` as the script's PROJDIR: `app` copied in as app.mjs, and a
 * node_modules/.bin/runfcgi that runs this checkout on the Node that runs the
 * tests (the script sets PATH, as npm's shim would find node).
 */
export function restartProject(dir: string, app: string): void {
  fs.copyFileSync(app, path.join(dir, 'app.mjs'));
  fs.mkdirSync(path.join(dir, 'node_modules/.bin'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'node_modules/.bin/runfcgi'), `#!/bin/sh\nexec ${process.execPath} ${BIN} "$@"\n`, { mode: 0o755 });
}

/**
 * Runs the script with an empty environment from another directory. Not
 * spawnSync: the load in this process must go on while the script runs,
 * which is when the socket changes hands. Resolves with its exit code.
 */
export function runRestartScript(dir: string, listen: string, options: string): Promise<number | null> {
  return new Promise((resolve) => {
    const child = spawn('/bin/bash', [path.join(ROOT, 'scripts/restart.sh')], {
      cwd: '/',
      env: { PROJDIR: dir, APP: './app.mjs', LISTEN: listen, RUNFCGI_OPTIONS: `umask=000 errlog=${dir}/err.log ${options}`, PATH: process.env.PATH },
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: 30_000,
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('exit', (code) => {
      if (code !== 0) console.error(stderr);
      resolve(code);
    });
  });
}

/** Ends the master the pidfile names (SIGQUIT), if one runs, and waits until it is gone. */
export async function quitMaster(pidfile: string): Promise<void> {
  try {
    const pid = readPid(pidfile);
    process.kill(pid, 'SIGQUIT');
    await waitFor(() => !running(pid), 10_000, `pid ${pid} gone`);
  } catch {
    // not running
  }
}
