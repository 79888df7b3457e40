// The logger: pino JSON lines, to standard error or a file that SIGUSR1 reopens; readable on a terminal.

import pino, { type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from './options.js';

export type { Logger };

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
 * Standard error, or `file` opened for appending (synchronously, so a line
 * logged just before exit is not lost). On a terminal, lines are made readable.
 */
export function logDestination(file?: string): LogDestination {
  if (file !== undefined && file !== '-' && file !== '/dev/null') return survivingFile(file);
  const stderr = pino.destination({ fd: 2, sync: true }) as unknown as LogDestination;
  if (!process.stderr.isTTY) return stderr;
  return {
    write: (line: string) => stderr.write(prettyLine(line)),
    reopen: () => {},
  } as LogDestination;
}

/**
 * A log file whose failed writes (a full disk, a file gone) lose that line,
 * not the server: pino's synchronous destination throws from log.info().
 * The first failure is said once on standard error.
 */
function survivingFile(file: string): LogDestination {
  const destination = pino.destination({ dest: file, append: true, sync: true, mkdir: false }) as unknown as LogDestination;
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

export function createLogger(bindings: Record<string, unknown> = {}, level: LogLevel = 'info', destination: DestinationStream = logDestination()): Logger {
  return pino({ level, base: { pid: process.pid, ...bindings } }, destination);
}
