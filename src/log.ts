// The logger: pino JSON lines on standard error.

import pino, { type Logger } from 'pino';

export type { Logger };

export function createLogger(bindings: Record<string, unknown> = {}, level = 'info'): Logger {
  // Synchronous writes: a line logged just before exit must not be lost.
  return pino({ level, base: { pid: process.pid, ...bindings } }, pino.destination({ fd: 2, sync: true }));
}
