// daemonize=true: the launcher starts the master detached, and returns once it serves or with its reason for failing.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { EXIT_RUNTIME, RunfcgiError } from './errors.js';
import type { Options } from './options.js';

/** The daemon finds its (already checked) options here, and knows it is the daemon. */
export const DAEMON_ENV = 'RUNFCGI_DAEMON';
const DAEMON_ENTRY = new URL('./daemon-main.js', import.meta.url);

export type DaemonReport =
  | { runfcgi: 1; type: 'daemon-ready' }
  | { runfcgi: 1; type: 'daemon-failed'; exitCode: number; message: string };

function openLog(name: 'outlog' | 'errlog', file: string): number {
  try {
    return fs.openSync(file, 'a', 0o640);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'its directory does not exist' : code === 'EACCES' ? 'permission denied' : (code ?? (error as Error).message);
    throw new RunfcgiError(`cannot open ${name}=${file}: ${why}`);
  }
}

function checkWorkdir(dir: string): void {
  const stat = fs.statSync(dir, { throwIfNoEntry: false });
  if (stat === undefined || !stat.isDirectory()) {
    throw new RunfcgiError(`workdir=${dir}: no such directory`);
  }
}

/**
 * Node cannot fork(): the daemon is this program again, started detached
 * (setsid: a session leader with no controlling terminal), stdin from
 * /dev/null, stdout and stderr to outlog and errlog. It reports over IPC
 * once it serves; then the launcher exits 0 and the daemon's parent is init.
 */
export async function launchDaemon(options: Options): Promise<void> {
  checkWorkdir(options.workdir);
  const out = openLog('outlog', options.outlog ?? '/dev/null');
  const err = openLog('errlog', options.errlog ?? '/dev/null');
  const child = spawn(process.execPath, [fileURLToPath(DAEMON_ENTRY)], {
    detached: true,
    cwd: options.workdir,
    stdio: ['ignore', out, err, 'ipc'],
    env: { ...process.env, [DAEMON_ENV]: JSON.stringify(options) },
  });
  fs.closeSync(out);
  fs.closeSync(err);
  try {
    await new Promise<void>((resolve, reject) => {
      let failure: RunfcgiError | null = null;
      child.on('message', (m: DaemonReport) => {
        if (m?.type === 'daemon-ready') resolve();
        // Report the failure once the daemon is gone: nothing is left running then.
        else if (m?.type === 'daemon-failed') failure = new RunfcgiError(m.message, m.exitCode);
      });
      child.on('error', (error) => reject(new RunfcgiError(`cannot start the daemon: ${error.message}`)));
      child.on('exit', (code, signal) => {
        if (failure !== null) return reject(failure);
        const where = options.errlog && options.errlog !== '/dev/null' ? `see errlog=${options.errlog}` : 'start with daemonize=false or errlog=FILE to see why';
        reject(new RunfcgiError(`the daemon exited before it was serving (code ${code}, signal ${signal}); ${where}`, code || EXIT_RUNTIME));
      });
    });
  } finally {
    if (child.connected) child.disconnect();
    child.unref();
  }
}
