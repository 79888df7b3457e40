// The programmatic API: run({ app, method, ... }) with the command line's options and checks.

import { WEB_SERVER_ADDRS, webServerCheck } from './access-list.js';
import { isRoot, lookupGroup, lookupUser, type Account } from './accounts.js';
import { bindListener } from './bind.js';
import { launchDaemon } from './daemon.js';
import { workerEnvironment } from './environment.js';
import { RunfcgiError } from './errors.js';
import { createLogger, logDestination, type Logger } from './log.js';
import { Master, SIGNALS, type MasterSetup } from './master.js';
import { resolveOptions, type OptionInput, type Options } from './options.js';
import { Pidfile } from './pidfile.js';
import { processRuntime } from './runtime/process.js';
import { threadRuntime } from './runtime/thread.js';
import { SignalQueue } from './signals.js';

interface Credentials {
  account: Account;
  gid: number;
}

/** user=/group= checked at start: only root may change them; root without them is warned about. */
function workerCredentials(options: Options, log: Logger): Credentials | undefined {
  if (options.user === undefined) {
    if (isRoot()) log.warn('running the workers as root: give user= (and group=) to drop privileges once the socket is bound');
    return undefined;
  }
  const account = lookupUser(options.user);
  const gid = options.group === undefined ? account.gid : lookupGroup(options.group);
  if (!isRoot() && account.uid !== process.getuid?.()) {
    throw new RunfcgiError(`user=${options.user}: only root can run workers as another user (runfcgi runs as uid ${process.getuid?.()})`);
  }
  return { account, gid };
}

function dropPrivileges({ account, gid }: Credentials): void {
  if (!isRoot()) return;
  process.setgroups?.([gid]);
  process.setgid?.(gid);
  process.setuid?.(account.uid);
}

/**
 * Runs the server with the same options, defaults and validation as the
 * command line. In the foreground it resolves when the server has stopped
 * cleanly; with daemonize=true, once the daemon serves. Rejects with a
 * RunfcgiError, whose `exitCode` follows the exit-code contract.
 */
export async function run(input: OptionInput = {}): Promise<void> {
  return runResolved(resolveOptions(input));
}

export interface RunHooks {
  /** This process is the daemon already (see daemon.ts). */
  asDaemon?: boolean;
  /** Called once the first worker serves and the pidfile is written. */
  onReady?: () => void;
}

export async function runResolved(options: Options, hooks: RunHooks = {}): Promise<void> {
  // A bad FCGI_WEB_SERVER_ADDRS stops the start here, not in every worker.
  webServerCheck(process.env[WEB_SERVER_ADDRS]);
  if (options.daemonize && hooks.asDaemon !== true) return launchDaemon(options);
  // First of all, so that a signal that comes early is queued, not fatal.
  const signals = new SignalQueue(SIGNALS);
  const logs = logDestination(options.errlog);
  const log = createLogger({ role: 'master' }, options.loglevel, logs);
  const pidfile = options.pidfile === undefined ? undefined : new Pidfile(options.pidfile, log);
  try {
    const credentials = workerCredentials(options, log);
    if (options.umask !== undefined) process.umask(options.umask);
    await pidfile?.claim();
    const listener = await bindListener(options, log).catch(async (error: unknown) => {
      await pidfile?.unlock();
      throw error;
    });
    process.title = 'runfcgi: master';
    const runtime = options.method === 'threaded' ? threadRuntime : processRuntime;
    // Threads share the process's user: the whole process changes, once the socket is bound.
    if (options.method === 'threaded' && credentials !== undefined) dropPrivileges(credentials);
    const setup: MasterSetup = {
      worker: {
        env: workerEnvironment(options.env, process.env, credentials?.account),
        ...(options.method === 'prefork' && credentials !== undefined ? { uid: credentials.account.uid, gid: credentials.gid } : {}),
      },
      reopenLogs: () => logs.reopen(),
    };
    const master = new Master(options, listener, runtime, log, signals, setup);
    try {
      await master.run(async () => {
        await pidfile?.write().catch((error: Error) => log.error({ pidfile: pidfile.file, err: error.message }, 'cannot write the pidfile'));
        log.info({ address: listener.address, method: options.method, pid: process.pid }, 'runfcgi is listening');
        hooks.onReady?.();
      });
    } finally {
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
