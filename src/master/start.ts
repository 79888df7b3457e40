// The master, started in this process (foreground, or the daemon): pidfile, socket, workers, until it stops.

import fs from 'node:fs';
import { isRoot, lookupGroup, lookupUser, type Account } from './accounts.js';
import { appLines } from './app-output.js';
import { bindListener } from './listener/bind.js';
import { keepFd0FlagsAtExit } from './listener/fd0.js';
import { containerPlace, type ContainerPlace } from '../shared/container.js';
import { startControl, type Control } from './control.js';
import { leftOut, workerEnvironment } from './environment.js';
import { RunfcgiError } from '../shared/errors.js';
import { checkLogFile, createLogger, logDestination, type Logger } from '../shared/log.js';
import { Master, SIGNALS, type MasterSetup } from './master.js';
import type { Options } from '../config/options.js';
import { Pidfile } from './pidfile.js';
import { MASTER_TITLE } from '../shared/procfs.js';
import { processRuntime } from './runtime/process.js';
import { threadRuntime } from './runtime/thread.js';
import { SignalQueue } from './signals.js';
import { somaxconn } from '../config/system-limits.js';

/** The backlog the kernel keeps: listen(2) caps what it is given to net.core.somaxconn. */
function listenBacklog(backlog: number): number {
  return Math.min(backlog, somaxconn() ?? backlog);
}

interface Credentials {
  account: Account;
  gid: number;
}

/** user=/group= checked at start: only root may change them. */
function workerCredentials(options: Options): Credentials | undefined {
  if (options.user === undefined) return undefined;
  const account = lookupUser(options.user);
  const gid = options.group === undefined ? account.gid : lookupGroup(options.group);
  if (!isRoot() && account.uid !== process.getuid?.()) {
    throw new RunfcgiError(`user=${options.user}: only root can run workers as another user (runfcgi runs as uid ${process.getuid?.()})`);
  }
  return { account, gid };
}

/**
 * Workers open errlog= and accesslog= themselves and write their own lines:
 * as user= they could not open a file root created 0640, and the start hung
 * until starttimeout (issue 26). The files become that user's, as a
 * PHP-FPM pool's slowlog does; a device (/dev/null) or a pipe stays as it is.
 */
function giveLogFiles(files: (string | undefined)[], { account, gid }: Credentials): void {
  if (!isRoot()) return;
  for (const file of files) {
    if (file === undefined || file === '-') continue;
    if (fs.statSync(file, { throwIfNoEntry: false })?.isFile()) fs.chownSync(file, account.uid, gid);
  }
}

function dropPrivileges({ account, gid }: Credentials): void {
  if (!isRoot()) return;
  process.setgroups?.([gid]);
  process.setgid?.(gid);
  process.setuid?.(account.uid);
}

/** Said once serving, in a container: what differs from a host. */
function logContainer(log: Logger, place: ContainerPlace): void {
  log.info({ container: place.role }, `runfcgi is ${place.text}: SIGTERM stops without waiting for a successor master`);
  // Node can wait only for its own children (libuv's waitpid per pid): a reaper of every orphan would steal their statuses.
  if (place.role === 'pid1') {
    log.warn("running as PID 1: processes the app leaves behind (orphans) are not reaped and stay as zombies; run the container with an init: podman/docker run --init, compose's init: true, or ENTRYPOINT [\"tini\", \"--\"] in the image");
  }
}

export interface StartHooks {
  /** Called once the first worker serves and the pidfile is written. */
  onReady?: () => void;
}

/** Runs the master here until it stops; rejects with a RunfcgiError when it cannot start. */
export async function startMaster(options: Options, hooks: StartHooks = {}): Promise<void> {
  // First of all, so that a signal that comes early is queued, not fatal,
  // and that no exit makes a socket handed over on fd 0 blocking for whoever shares it.
  const signals = new SignalQueue(SIGNALS);
  keepFd0FlagsAtExit();
  const logs = logDestination(options.errlog);
  // The workers open it; a file they cannot open is better said here, once.
  if (options.accesslog !== undefined && options.accesslog !== '-') checkLogFile(options.accesslog, 'accesslog');
  const log = createLogger({ role: 'master' }, options.loglevel, logs);
  const pidfile = options.pidfile === undefined ? undefined : new Pidfile(options.pidfile, log);
  try {
    const credentials = workerCredentials(options);
    if (credentials !== undefined) giveLogFiles([options.errlog, options.accesslog], credentials);
    if (options.umask !== undefined) process.umask(options.umask);
    await pidfile?.claim();
    const listener = await bindListener(options, log).catch(async (error: unknown) => {
      await pidfile?.unlock();
      throw error;
    });
    const container = containerPlace();
    // No successor master can come: the container ends with us. SIGTERM stops without waiting for one.
    if (container !== undefined) listener.canHandOver = false;
    // Before the pidfile is written: the title is how another start knows us (procfs.ts).
    process.title = MASTER_TITLE;
    const runtime = options.method === 'threaded' ? threadRuntime : processRuntime;
    // Threads share the process's user: the whole process changes, once the socket is bound.
    if (options.method === 'threaded' && credentials !== undefined) dropPrivileges(credentials);
    const setup: MasterSetup = {
      worker: {
        env: workerEnvironment(options.env, process.env, credentials?.account),
        ...(options.method === 'prefork' && credentials !== undefined ? { uid: credentials.account.uid, gid: credentials.gid } : {}),
        ...(options.applog === 'json' ? { appLines: appLines(logs) } : {}),
        log,
      },
      reopenLogs: () => logs.reopen(),
    };
    let control: Control | undefined;
    try {
      const master = new Master(options, listener, runtime, log, signals, setup);
      // Before any worker thread runs: it binds under a process-wide umask for a moment.
      control = startControl([options.pidfile, options.socket].filter((f) => f !== undefined), () => master.poolStatus(), log);
      await master.run(async () => {
        await pidfile?.write().catch((error: Error) => log.error({ pidfile: pidfile.file, err: error.message }, 'cannot write the pidfile'));
        log.info({ address: listener.address, method: options.method, backlog: listenBacklog(options.backlog), maxconns: options.maxconns }, 'runfcgi is listening');
        if (listener.inherited) log.info({ backlog: listenBacklog(options.backlog) }, "the socket was handed to us: the workers listen on it with backlog= (the web server's own -b or Backlog= is replaced)");
        const max = somaxconn();
        if (max !== undefined && options.backlog > max) {
          log.warn({ backlog: options.backlog, somaxconn: max }, `backlog=${options.backlog} is capped to net.core.somaxconn=${max}: raise it with sysctl -w net.core.somaxconn=${options.backlog}`);
        }
        // Said once serving, not at start: the first line a master writes loads the logger (log.ts),
        // and that should not delay the first worker.
        const unpassed = leftOut(options.env);
        if (unpassed.length > 0) {
          log.info({ variables: unpassed }, `the workers' environment is clean: ${unpassed.join(', ')} not passed (env=NAME passes one, env=NAME=value sets one)`);
        }
        if (container !== undefined) logContainer(log, container);
        if (credentials === undefined && isRoot()) log.warn('running the workers as root: give user= (and group=) to drop privileges once the socket is bound');
        hooks.onReady?.();
      });
    } finally {
      control?.close();
      listener.close();
      listener.cleanup();
      pidfile?.remove();
      await pidfile?.unlock();
    }
    log.info('stopped');
  } finally {
    signals.dispose();
  }
}
