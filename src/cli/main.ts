// The command line: key=value words in, help out, errors to exit codes. The only process.exit.

import { EXIT_OK, EXIT_RUNTIME, RunfcgiError, UsageError } from '../shared/errors.js';
import { helpText, resolveOptions } from '../config/options.js';
import { parseArgs } from './args.js';
import { runResolved } from '../run.js';

/**
 * `runfcgi check [options]`: validate the options and load the app without
 * serving; exit 0 when it would start, 1 with the reason otherwise (deploy scripts).
 */
async function check(argv: readonly string[]): Promise<number> {
  try {
    const input = parseArgs(argv);
    if (input === 'help') {
      process.stdout.write(helpText());
      return EXIT_OK;
    }
    const options = resolveOptions(input);
    // Only `check` loads an app in this process: starting the server need not load these.
    const [{ loadApp }, { createLogger }] = await Promise.all([import('../adapter/load.js'), import('../shared/log.js')]);
    const log = createLogger({}, 'silent');
    await loadApp(options.app, { debug: options.debug, log }, options.cwd);
    process.stdout.write(`runfcgi: check passed: the options are valid and app=${options.app ?? '(built-in welcome app)'} loads\n`);
    return EXIT_OK;
  } catch (error) {
    process.stderr.write(`runfcgi: check failed: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT_RUNTIME;
  }
}

const CONTROL_COMMANDS = new Set(['status', 'reload', 'stop']);

export async function main(argv: readonly string[]): Promise<number> {
  const first = argv[0]?.toLowerCase() ?? '';
  if (first === 'check') return check(argv.slice(1));
  // bin/runfcgi loads ping.js alone; this is the way in for main() (tests, `node dist/cli/main.js`).
  if (first === 'ping') return (await import('./ping.js')).ping(argv.slice(1));
  try {
    if (CONTROL_COMMANDS.has(first)) {
      const { runControl } = await import('./control-client.js');
      return await runControl(first as 'status' | 'reload' | 'stop', argv.slice(1));
    }
    const input = parseArgs(argv);
    if (input === 'help') {
      process.stdout.write(helpText());
      return EXIT_OK;
    }
    await runResolved(resolveOptions(input));
    return EXIT_OK;
  } catch (error) {
    if (error instanceof RunfcgiError) {
      const hint = error instanceof UsageError ? " (see 'runfcgi help')" : '';
      process.stderr.write(`runfcgi: ${error.message}${hint}\n`);
      return error.exitCode;
    }
    process.stderr.write(`runfcgi: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return EXIT_RUNTIME;
  }
}

export async function cli(): Promise<void> {
  const code = await main(process.argv.slice(2));
  process.exit(code);
}


