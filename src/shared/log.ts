// The logger: pino JSON lines, to standard error or a file that SIGUSR1 reopens; readable on a terminal.

import fs from 'node:fs';
import { createRequire } from 'node:module';
import tty from 'node:tty';
import type { default as Pino, DestinationStream, Logger as PinoLogger, LoggerOptions } from 'pino';
import { cannotOpen } from './errors.js';
import type { LogLevel } from '../config/options.js';

/** What runfcgi logs with: pino's level methods, as in log.info({ worker: 2 }, 'worker ready'). */
export type Logger = Pick<PinoLogger, LevelMethod>;
type LevelMethod = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

const LEVEL_METHODS: readonly LevelMethod[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];
const LEVEL_VALUES: Record<LogLevel, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };

/**
 * pino is loaded with the first line written, not before: loading it took
 * ~17 ms on the way to the first answer, in the master and in every worker,
 * and the worker of a quiet app may never write a line. (It is CommonJS, so
 * it can be loaded synchronously, inside the log call.)
 */
const require = createRequire(import.meta.url);
let pinoModule: typeof Pino | undefined;
const pino = (): typeof Pino => (pinoModule ??= require('pino') as typeof Pino);

/** A destination that can reopen its file (logrotate renames it, then sends SIGUSR1). */
export interface LogDestination extends DestinationStream {
  reopen(): void;
}

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/** "12:00:01 INFO  worker ready worker=2": for a person at a terminal, not for a program. */
export function prettyLine(line: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const { time, level, msg, pid: _pid, ...rest } = entry;
  const when = new Date(Number(time)).toTimeString().slice(0, 8);
  const fields = Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ');
  return `${when} ${(LEVELS[Number(level)] ?? String(level)).padEnd(5)} ${String(msg ?? '')}${fields ? ` ${fields}` : ''}\n`;
}

/**
 * applog=json, in a worker process: fd 1 and 2 are pipes the master turns
 * into the app's log records, and runfcgi's own lines (and accesslog=-) go
 * to the master's standard error, which the worker has as this fd.
 */
export const APPLOG_LOG_FD = 4;
let stderrFd = 2;

/** The fd that "standard error" destinations write to in this process (see APPLOG_LOG_FD). */
export function useStderrFd(fd: number): void {
  stderrFd = fd;
}

/**
 * Standard error, or `file` opened for appending (synchronously, so a line
 * logged just before exit is not lost). On a terminal, lines are made readable.
 */
export function logDestination(file?: string, option = 'errlog'): LogDestination {
  if (file !== undefined && file !== '-' && file !== '/dev/null') return survivingFile(file, option);
  const stderr = lazyDestination(() => pino().destination({ fd: stderrFd, sync: true }) as unknown as LogDestination);
  if (!tty.isatty(stderrFd)) return stderr;
  return {
    write: (line: string) => stderr.write(prettyLine(line)),
    reopen: () => {},
  } as LogDestination;
}

/** Opens `file` for appending once, so that a log file that cannot be opened stops the start with a clear line. */
export function checkLogFile(file: string, option: string): void {
  try {
    fs.closeSync(fs.openSync(file, 'a'));
  } catch (error) {
    throw cannotOpen(option, file, error);
  }
}

/**
 * A log file whose failed writes (a full disk, a file gone) lose that line,
 * not the server: pino's synchronous destination throws from log.info().
 * The first failure is said once on standard error.
 */
function survivingFile(file: string, option: string): LogDestination {
  // Opened once now, as before the destination was made lazily.
  checkLogFile(file, option);
  const destination = lazyDestination(() => pino().destination({ dest: file, append: true, sync: true, mkdir: false }) as unknown as LogDestination);
  let failing = false;
  return {
    write(line: string) {
      try {
        destination.write(line);
        failing = false;
      } catch (error) {
        if (!failing) {
          failing = true;
          try {
            process.stderr.write(`runfcgi: cannot write to ${file} (${(error as NodeJS.ErrnoException).code ?? error}): log lines are lost until it can be written again\n`);
          } catch {
            // standard error is gone too
          }
        }
      }
    },
    reopen() {
      try {
        destination.reopen();
      } catch {
        // the next write says so
      }
    },
  } as LogDestination;
}

/** A destination made on its first write; before that there is nothing to reopen. */
function lazyDestination(make: () => LogDestination): LogDestination {
  let destination: LogDestination | undefined;
  return {
    write: (line: string) => (destination ??= make()).write(line),
    reopen: () => destination?.reopen(),
  } as LogDestination;
}

/** A pino logger made when it first writes a line; a call below `options.level` costs nothing. */
export function lazyLogger(options: LoggerOptions, destination: DestinationStream): Logger {
  const least = LEVEL_VALUES[(options.level ?? 'info') as LogLevel];
  let logger: PinoLogger | undefined;
  const lazy = {} as Record<LevelMethod, (...args: unknown[]) => void>;
  for (const method of LEVEL_METHODS) {
    lazy[method] = LEVEL_VALUES[method] < least ? () => {} : (...args) => {
      logger ??= pino()(options, destination);
      (logger[method] as (...args: unknown[]) => void)(...args);
    };
  }
  return lazy as unknown as Logger;
}

export function createLogger(bindings: Record<string, unknown> = {}, level: LogLevel = 'info', destination: DestinationStream = logDestination()): Logger {
  return lazyLogger({ level, base: { pid: process.pid, ...bindings } }, destination);
}
