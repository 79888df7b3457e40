// What the system tells about another process: alive or not, and its title.

import fs from 'node:fs';

/** The title a master takes when it stops: a successor may take over its socket path and pidfile. */
export const STOPPING_TITLE = 'runfcgi: master (stopping)';

/** The command line (or process.title) of `pid`, '' if it cannot be read. */
export function commandLine(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0+$/, '').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
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
