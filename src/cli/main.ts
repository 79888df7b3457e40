// The command line: key=value words in, help out, errors to exit codes. The only process.exit.

import { Command, CommanderError } from 'commander';
import { EXIT_OK, EXIT_RUNTIME, RunfcgiError, UsageError } from '../shared/errors.js';
import { OPTIONS, helpText, resolveOptions, suggestion, type CommandLineInput } from '../config/options.js';
import { runResolved } from '../run.js';

const HELP_WORDS = new Set(['help', '--help', '-h']);

/**
 * Django-style words become commander's long options: `Port=3033` ->
 * `--port=3033`. `--key=value` and `--key value` pass through (keys folded
 * to lower case).
 */
function normalize(argv: readonly string[]): string[] {
  return argv.map((word) => {
    const kv = /^(?:--)?([A-Za-z][\w-]*)=([\s\S]*)$/.exec(word);
    if (kv) return `--${kv[1]!.toLowerCase()}=${kv[2]}`;
    if (/^--[A-Za-z][\w-]*$/.test(word)) return word.toLowerCase();
    return word;
  });
}

function program(): Command {
  const cmd = new Command('runfcgi')
    .helpOption(false)
    .exitOverride()
    .configureOutput({ writeErr: () => {}, writeOut: () => {} })
    .allowExcessArguments(true);
  // Every value is kept, not only the last: resolveOptions checks each one.
  for (const option of OPTIONS) cmd.option(`--${option.name} <value>`, '', (value: string, previous: string[] = []) => [...previous, value]);
  return cmd;
}

/** Parses the words of the command line into option input; throws UsageError. */
export function parseArgs(argv: readonly string[]): CommandLineInput | 'help' {
  if (argv.some((w) => HELP_WORDS.has(w.toLowerCase()))) return 'help';
  const cmd = program();
  try {
    cmd.parse(normalize(argv), { from: 'user' });
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    const unknown = /unknown option '--([^'=]*)/.exec(error.message);
    if (unknown) throw new UsageError(`unknown option '${unknown[1]}'${suggestion(unknown[1]!)}`);
    const missing = /option '--(\w+) <value>' argument missing/.exec(error.message);
    if (missing) throw new UsageError(`${missing[1]} needs a value: ${missing[1]}=VALUE`);
    throw new UsageError(error.message.replace(/^error: /, ''));
  }
  if (cmd.args.length > 0) {
    throw new UsageError(`unexpected word '${cmd.args[0]}': options are key=value words, such as app=./app.js`);
  }
  // A key given once reads as its value; given more often, as the list of them.
  const given = cmd.opts<Record<string, string[]>>();
  return Object.fromEntries(Object.entries(given).map(([k, v]) => [k, v.length === 1 ? v[0]! : v]));
}

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


