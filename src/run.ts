// The programmatic API: run({ app, method, ... }) with the command line's options and checks.

import { bindListener } from './bind.js';
import { launchDaemon } from './daemon.js';
import { UsageError } from './errors.js';
import { createLogger } from './log.js';
import { Master, SIGNALS } from './master.js';
import { resolveOptions, type OptionInput, type Options } from './options.js';
import { Pidfile } from './pidfile.js';
import { processRuntime } from './runtime/process.js';
import { threadRuntime } from './runtime/thread.js';
import { SignalQueue } from './signals.js';

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
  if (options.protocol === 'scgi') {
    throw new UsageError('protocol=scgi: not available in this version yet; use protocol=fcgi');
  }
  if (options.daemonize && hooks.asDaemon !== true) return launchDaemon(options);
  // First of all, so that a signal that comes early is queued, not fatal.
  const signals = new SignalQueue(SIGNALS);
  const log = createLogger({ role: 'master' });
  const pidfile = options.pidfile === undefined ? undefined : new Pidfile(options.pidfile, log);
  try {
    if (options.umask !== undefined) process.umask(options.umask);
    await pidfile?.claim();
    const listener = await bindListener(options, log).catch(async (error: unknown) => {
      await pidfile?.unlock();
      throw error;
    });
    process.title = 'runfcgi: master';
    const runtime = options.method === 'threaded' ? threadRuntime : processRuntime;
    const master = new Master(options, listener, runtime, log, signals);
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
