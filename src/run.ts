// The programmatic API: run({ app, method, ... }) with the command line's options and checks.

import { WEB_SERVER_ADDRS, webServerCheck } from './shared/access-list.js';
import { resolveOptions, type OptionInput, type Options } from './config/options.js';

/**
 * Runs the server with the same options, defaults and validation as the
 * command line. In the foreground it resolves when the server has stopped
 * cleanly; with daemonize=true, once the daemon serves. Rejects with a
 * RunfcgiError, whose `exitCode` follows the exit-code contract.
 */
export async function run(input: OptionInput = {}): Promise<void> {
  return runResolved(resolveOptions(input));
}

/**
 * Each way to run loads only its own modules: the launcher of a daemon
 * needs none of the master's (the logger, the pidfile lock, the pool), and
 * they are on the path to the first answer (see daemon.ts, start.ts).
 */
export async function runResolved(options: Options): Promise<void> {
  // A bad FCGI_WEB_SERVER_ADDRS stops the start here, not in every worker.
  webServerCheck(process.env[WEB_SERVER_ADDRS]);
  if (options.daemonize) {
    const { launchDaemon } = await import('./daemon/launcher.js');
    return launchDaemon(options);
  }
  const { startMaster } = await import('./master/start.js');
  return startMaster(options);
}
