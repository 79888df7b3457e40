// Error classes and the exit-code contract (SPEC.md, "Exit codes").

export const EXIT_OK = 0;
/** Runtime failure: cannot bind, already running, cannot write the pidfile... */
export const EXIT_RUNTIME = 1;
/** Bad option or combination. */
export const EXIT_USAGE = 2;
/** A worker could not boot. */
export const EXIT_WORKER_BOOT = 3;
/** The application module failed to load. */
export const EXIT_APP_LOAD = 4;

/** An error meant for the user: its message is the whole story, no stack trace. */
export class RunfcgiError extends Error {
  override name = 'RunfcgiError';
  readonly exitCode: number;
  constructor(message: string, exitCode: number = EXIT_RUNTIME) {
    super(message);
    this.exitCode = exitCode;
  }
}

export class UsageError extends RunfcgiError {
  override name = 'UsageError';
  constructor(message: string) {
    super(message, EXIT_USAGE);
  }
}

export class AppLoadError extends RunfcgiError {
  override name = 'AppLoadError';
  constructor(message: string) {
    super(message, EXIT_APP_LOAD);
  }
}

export class WorkerBootError extends RunfcgiError {
  override name = 'WorkerBootError';
  constructor(message: string) {
    super(message, EXIT_WORKER_BOOT);
  }
}

/**
 * An errno code in words, for the one-line errors users read: `permission denied`, not
 * `EACCES`. Takes the error (its code, else its message) or a code.
 */
export function errnoWords(error: unknown): string {
  const code = typeof error === 'string' ? error : (error as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT': return 'its directory does not exist';
    case 'EACCES':
    case 'EPERM': return 'permission denied';
    case 'EROFS': return 'read-only file system';
    case 'EADDRINUSE': return 'address already in use (is another server running there?)';
    case 'EADDRNOTAVAIL': return 'no such address on this machine';
    default: return code ?? (error instanceof Error ? error.message : String(error));
  }
}

/** The one-line error for a file an option names that cannot be opened: `cannot open errlog=/x/y.log: ...`. */
export function cannotOpen(option: string, file: string, error: unknown): RunfcgiError {
  return new RunfcgiError(`cannot open ${option}=${file}: ${errnoWords(error)}`);
}

/**
 * Where to read the log of a failed start, for the messages that send the
 * user there: "the log above" only when there is one (standard error).
 */
export function whereTheLogIs(errlog: string | undefined): string {
  if (errlog === undefined || errlog === '-') return 'see the log above';
  if (errlog === '/dev/null') return 'its log went to /dev/null (no errlog=): start again with errlog=FILE, or with daemonize=false, to see why';
  return `see errlog=${errlog}`;
}
