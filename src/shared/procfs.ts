// What the system tells about another process: alive or not, and its title.

import fs from 'node:fs';

/** The title a master takes once it has bound its socket, before it writes its pidfile. */
export const MASTER_TITLE = 'runfcgi: master';

/** The title a master takes when it stops: a successor may take over its socket path and pidfile. */
export const STOPPING_TITLE = 'runfcgi: master (stopping)';

/**
 * Whether `pid` is a runfcgi master: 'serving', 'stopping', or null for any
 * other process. Known by the title our master sets before it writes a
 * pidfile, or, where a title could not be set, by its launcher in argv[0] or
 * argv[1] (`.../bin/runfcgi`). Not by "runfcgi" anywhere in the command line:
 * that matches a checkout or a cache directory named after the project.
 */
export function runfcgiMaster(pid: number): 'serving' | 'stopping' | null {
  const args = argv(pid);
  const title = args.join(' ');
  if (title === STOPPING_TITLE) return 'stopping';
  if (title.startsWith(MASTER_TITLE)) return 'serving';
  const launcher = (arg: string | undefined): boolean => arg !== undefined && /(^|\/)bin\/runfcgi$/.test(arg);
  return launcher(args[0]) || launcher(args[1]) ? 'serving' : null;
}

/** The arguments (or process.title) of `pid`, [] if they cannot be read. */
function argv(pid: number): string[] {
  try {
    const text = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0+$/, '');
    return text === '' ? [] : text.split('\0');
  } catch {
    return [];
  }
}

/**
 * Whether `pid` runs. A zombie does not: it has exited and only waits for its
 * parent to read its status (a daemon's master whose parent is not init, under
 * some supervisors), so `runfcgi stop` must not wait for it to go.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  return !isZombie(pid);
}

/** State Z in /proc/PID/stat (after the name in parentheses, which may itself hold ") "). */
function isZombie(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(') ') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

/**
 * Connections waiting in the accept queue of the TCP socket listening on
 * `port` (rx_queue of a LISTEN line in /proc/net/tcp and tcp6); null when unknown.
 */
export function tcpListenQueue(port: number): number | null {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // sl local_address rem_address st tx_queue:rx_queue ...; st 0A = LISTEN.
      if (f[1]?.endsWith(`:${hexPort}`) && f[3] === '0A') return parseInt(f[4]!.split(':')[1]!, 16);
    }
  }
  return null;
}
