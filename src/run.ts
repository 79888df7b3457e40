// The programmatic API: run({ app, method, ... }) with the command line's options and checks.

import { loadApp } from './adapter/load.js';
import { UsageError } from './errors.js';
import { listen } from './listen.js';
import { createLogger } from './log.js';
import { resolveOptions, type OptionInput, type Options } from './options.js';
import { serve } from './serve.js';
import { SignalQueue } from './signals.js';

/** How long a graceful stop waits for requests in progress before closing them. */
export const GRACE_PERIOD_MS = 30_000;

/**
 * Runs the server with the same options, defaults and validation as the
 * command line. Resolves when the server has stopped cleanly; rejects with a
 * RunfcgiError (its `exitCode` follows the exit-code contract).
 */
export async function run(input: OptionInput = {}): Promise<void> {
  return runResolved(resolveOptions(input));
}

export async function runResolved(options: Options): Promise<void> {
  if (options.protocol === 'scgi') {
    throw new UsageError('protocol=scgi: not available in this version yet; use protocol=fcgi');
  }
  const signals = new SignalQueue(['SIGTERM', 'SIGINT', 'SIGQUIT']);
  try {
    const log = createLogger();
    const handler = await loadApp(options.app, { debug: options.debug, log });
    if (options.umask !== undefined) process.umask(options.umask);
    const listening = await listen(options);
    const serving = serve(listening.server, handler, log);
    log.info({ address: listening.address, method: options.method }, 'runfcgi is listening');

    let stopped: Promise<void> | null = null;
    for (;;) {
      const signal = await signals.next();
      // A second Ctrl+C, or SIGQUIT, means "now".
      const now = signal === 'SIGQUIT' || (signal === 'SIGINT' && stopped !== null);
      log.info({ signal }, now ? 'stopping now' : 'stopping gracefully');
      const stopping = serving.stop(now ? 0 : GRACE_PERIOD_MS);
      stopped ??= stopping;
      if (now) break;
      // Wait for the drain, but keep taking signals meanwhile.
      const next = await Promise.race([stopped.then(() => 'done' as const), signals.next()]);
      if (next === 'done') break;
      signals.push(next);
    }
    await stopped;
    listening.cleanup();
    log.info('stopped');
  } finally {
    signals.dispose();
  }
}
