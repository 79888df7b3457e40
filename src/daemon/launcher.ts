// daemonize=true: the launcher starts the master detached, and returns once it serves or with its reason for failing.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { EXIT_RUNTIME, RunfcgiError, cannotOpen, whereTheLogIs } from '../shared/errors.js';
import type { Options } from '../config/options.js';

/** The daemon finds its (already checked) options here, and knows it is the daemon. */
export const DAEMON_ENV = 'RUNFCGI_DAEMON';
/** The variables the daemon was started without, to put back in its process.env (see daemonEnvironment). */
export const HELD_ENV = 'RUNFCGI_DAEMON_HELD';
const DAEMON_ENTRY = new URL('./main.js', import.meta.url);

export type DaemonReport =
  | { runfcgi: 1; type: 'daemon-ready' }
  | { runfcgi: 1; type: 'daemon-failed'; exitCode: number; message: string };

function openLog(name: 'outlog' | 'errlog', file: string): number {
  try {
    return fs.openSync(file, 'a', 0o640);
  } catch (error) {
    throw cannotOpen(name, file, error);
  }
}

function checkWorkdir(dir: string): void {
  const stat = fs.statSync(dir, { throwIfNoEntry: false });
  if (stat === undefined || !stat.isDirectory()) {
    throw new RunfcgiError(`workdir=${dir}: no such directory`);
  }
}

/**
 * The daemon's environment: the launcher's, without what only slows its
 * boot. When NODE_EXTRA_CA_CERTS is set, Node 20 loads its certificate store
 * as it boots (~35 ms with Debian's bundle), before the daemon can start a
 * worker; a prefork master runs no app code and opens no TLS connection. It
 * boots without the variable and puts it back in its process.env at once, so
 * the workers, which run the app, get it as before. Threads run the app in
 * the daemon's own process: then it keeps the variable.
 */
function daemonEnvironment(options: Options): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, [DAEMON_ENV]: JSON.stringify(options) };
  if (options.method !== 'prefork' || env.NODE_EXTRA_CA_CERTS === undefined) return env;
  env[HELD_ENV] = JSON.stringify({ NODE_EXTRA_CA_CERTS: env.NODE_EXTRA_CA_CERTS });
  delete env.NODE_EXTRA_CA_CERTS;
  return env;
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
    env: daemonEnvironment(options),
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
        reject(new RunfcgiError(`the daemon exited before it was serving (code ${code}, signal ${signal}); ${whereTheLogIs(options.errlog ?? '/dev/null')}`, code || EXIT_RUNTIME));
      });
    });
  } finally {
    if (child.connected) child.disconnect();
    child.unref();
  }
}
