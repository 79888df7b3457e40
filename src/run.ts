// The programmatic API: run({ app, method, ... }) with the command line's options and checks.

import { bindListener } from './bind.js';
import { UsageError } from './errors.js';
import { createLogger } from './log.js';
import { Master, SIGNALS } from './master.js';
import { resolveOptions, type OptionInput, type Options } from './options.js';
import { processRuntime } from './runtime/process.js';
import { threadRuntime } from './runtime/thread.js';
import { SignalQueue } from './signals.js';

/**
 * Runs the server with the same options, defaults and validation as the
 * command line. Resolves when the server has stopped cleanly; rejects with a
 * RunfcgiError (its `exitCode` follows the exit-code contract).
 */
export async function run(input: OptionInput = {}): Promise<void> {
  return runResolved(resolveOptions(input));
}

export async function runResolved(options: Options, onReady: () => void = () => {}): Promise<void> {
  if (options.protocol === 'scgi') {
    throw new UsageError('protocol=scgi: not available in this version yet; use protocol=fcgi');
  }
  // First of all, so that a signal that comes early is queued, not fatal.
  const signals = new SignalQueue(SIGNALS);
  const log = createLogger({ role: 'master' });
  try {
    if (options.umask !== undefined) process.umask(options.umask);
    const listener = await bindListener(options);
    process.title = 'runfcgi: master';
    const runtime = options.method === 'threaded' ? threadRuntime : processRuntime;
    const master = new Master(options, listener, runtime, log, signals);
    try {
      await master.run(() => {
        log.info({ address: listener.address, method: options.method }, 'runfcgi is listening');
        onReady();
      });
    } finally {
      listener.close();
      listener.cleanup();
    }
    log.info('stopped');
  } finally {
    signals.dispose();
  }
}
