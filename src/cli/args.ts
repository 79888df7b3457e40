// The command line's words: key=value (or --key=value) words in, the option input out; a
// usage error names the word. Shared by the start, `check` and the status/reload/stop client.

import { Command, CommanderError } from 'commander';
import { UsageError } from '../shared/errors.js';
import { OPTIONS, suggestion, type CommandLineInput } from '../config/options.js';

const HELP_WORDS = new Set(['help', '--help', '-h']);
/** The words that may come first instead of options, as help and the error for an unknown one name them. */
const COMMANDS = ['help', 'check', 'status', 'reload', 'stop', 'ping'];

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
  if (cmd.args.length > 0 && cmd.args[0] === argv[0]) {
    // `runfcgi start`, `runfcgi restart`: a word where a command would be.
    throw new UsageError(`unknown command '${argv[0]}': runfcgi takes key=value options (runfcgi app=./app.js socket=./mysite.sock) or one of the commands ${COMMANDS.join(', ')}`);
  }
  if (cmd.args.length > 0) {
    throw new UsageError(`unexpected word '${cmd.args[0]}': options are key=value words, such as app=./app.js`);
  }
  // A key given once reads as its value; given more often, as the list of them.
  const given = cmd.opts<Record<string, string[]>>();
  return Object.fromEntries(Object.entries(given).map(([k, v]) => [k, v.length === 1 ? v[0]! : v]));
}
