// The programmatic API: run({ app, method, ... }) with the command line's options and checks.

import { loadApp } from './adapter/load.js';
import { UsageError } from './errors.js';
import { listen } from './listen.js';
import { createLogger } from './log.js';
import { resolveOptions, type OptionInput, type Options } from './options.js';
import { serve } from './serve.js';

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
  const log = createLogger();
  const handler = await loadApp(options.app, { debug: options.debug, log });
  if (options.umask !== undefined) process.umask(options.umask);
  const listening = await listen(options);
  const serving = serve(listening.server, handler, log);
  log.info({ address: listening.address, method: options.method }, 'runfcgi is listening');

  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (graceMs: number, signal: NodeJS.Signals): void => {
      log.info({ signal }, graceMs > 0 ? 'stopping gracefully' : 'stopping now');
      if (stopping && graceMs > 0) return;
      stopping = true;
      void serving.stop(graceMs).then(done);
    };
    const onTerm = (): void => stop(GRACE_PERIOD_MS, 'SIGTERM');
    // A second Ctrl+C means "now".
    const onInt = (): void => stop(stopping ? 0 : GRACE_PERIOD_MS, 'SIGINT');
    const onQuit = (): void => stop(0, 'SIGQUIT');
    const done = (): void => {
      process.off('SIGTERM', onTerm).off('SIGINT', onInt).off('SIGQUIT', onQuit);
      listening.cleanup();
      log.info('stopped');
      resolve();
    };
    process.on('SIGTERM', onTerm).on('SIGINT', onInt).on('SIGQUIT', onQuit);
  });
}
