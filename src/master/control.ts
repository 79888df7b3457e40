// The master's control socket: `runfcgi status` asks it for the pool. A UNIX socket beside the
// pidfile and the listening socket, mode 0600: only the master's user can open it.

import fs from 'node:fs';
import net from 'node:net';
import type { Logger } from '../shared/log.js';
import type { PoolStatus } from '../shared/pool-status.js';

/** What `runfcgi status` gets: the status page's data with every worker, and the master's own. */
export interface ControlReport extends PoolStatus {
  pid: number;
  /** The master's RSS in bytes (with threads, the workers' too: they share the process). */
  masterMemoryBytes: number;
  pm: string;
  /** pm=ondemand: no worker runs until a connection comes. */
  asleep: boolean;
}

/** The control socket for a pidfile or listening socket path. */
export function controlPath(file: string): string {
  return `${file}.control`;
}

export interface Control {
  close(): void;
}

/**
 * Listens at PATH.control for each path given. A request is one line
 * ("status"); the answer is one line of JSON, then the connection closes.
 * A file left by a master that is gone, or by one that is stopping while we
 * take over its socket path, is replaced.
 */
export function startControl(files: string[], status: () => Omit<ControlReport, 'pid' | 'masterMemoryBytes'>, log: Logger): Control {
  const servers: { server: net.Server; path: string; ino: number }[] = [];
  for (const file of files) {
    const path = controlPath(file);
    try {
      servers.push(listenPrivately(path, (socket) => answer(socket, status)));
    } catch (error) {
      log.warn({ control: path, err: (error as Error).message }, 'no control socket: runfcgi status cannot reach this master there');
    }
  }
  return {
    close() {
      for (const { server, path, ino } of servers.splice(0)) {
        server.close();
        // A successor's socket at the path stays.
        if (fs.statSync(path, { throwIfNoEntry: false })?.ino === ino) fs.rmSync(path, { force: true });
      }
    },
  };
}

/** Binds with umask 0177, so the socket is 0600 from its first moment (chmod after would leave a window). */
function listenPrivately(path: string, onConnection: (socket: net.Socket) => void): { server: net.Server; path: string; ino: number } {
  fs.rmSync(path, { force: true });
  const server = net.createServer(onConnection);
  server.on('error', () => {});
  const old = process.umask(0o177);
  try {
    // A pipe binds synchronously within listen().
    server.listen(path);
  } finally {
    process.umask(old);
  }
  fs.chmodSync(path, 0o600);
  server.unref();
  return { server, path, ino: fs.statSync(path).ino };
}

function answer(socket: net.Socket, status: () => Omit<ControlReport, 'pid' | 'masterMemoryBytes'>): void {
  socket.setEncoding('utf8');
  socket.on('error', () => {});
  let text = '';
  socket.on('data', (chunk: string) => {
    text += chunk;
    if (!text.includes('\n')) {
      if (text.length > 1024) socket.destroy();
      return;
    }
    const command = text.slice(0, text.indexOf('\n')).trim();
    if (command === 'status') {
      const full: ControlReport = { ...status(), pid: process.pid, masterMemoryBytes: process.memoryUsage.rss() };
      socket.end(`${JSON.stringify(full)}\n`);
    } else {
      socket.end(`${JSON.stringify({ error: `unknown command '${command}'` })}\n`);
    }
  });
}
