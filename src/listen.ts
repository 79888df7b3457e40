// Opening the listening socket: TCP, UNIX path (stale check, safe unlink), fd 0, systemd's LISTEN_FDS.

import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { RunfcgiError, UsageError } from './errors.js';

export interface Listening {
  server: net.Server;
  /** For logs and messages: 'unix:/path', 'tcp:127.0.0.1:3033', 'fd 0'. */
  address: string;
  /** Removes a UNIX socket file, only if it is still the one we created. */
  cleanup(): void;
}

export interface ListenOptions {
  host?: string | undefined;
  port?: number | undefined;
  socket?: string | undefined;
  backlog?: number;
}

/** FCGI_LISTENSOCK_FILENO (spec 2.2): a web server that spawns us hands the socket on fd 0. */
const FCGI_LISTENSOCK_FILENO = 0;
/** systemd passes activated sockets from fd 3 (sd_listen_fds). */
const SD_LISTEN_FDS_START = 3;

export const NO_ADDRESS_MESSAGE =
  'nothing to listen on: give socket=PATH (a UNIX socket) or host=ADDRESS port=PORT (TCP), ' +
  'or let a web server spawn runfcgi with its listening socket on fd 0 (mod_fcgid, lighttpd bin-path, spawn-fcgi)';

function newServer(): net.Server {
  // allowHalfOpen: a web server may shut down its sending side and still wait for our reply.
  return net.createServer({ allowHalfOpen: true });
}

function listenOn(server: net.Server, what: net.ListenOptions | { fd: number }): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    server.once('error', onError);
    server.listen(what as net.ListenOptions, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

function reason(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  switch (e.code) {
    case 'EADDRINUSE': return 'address already in use (is another server running there?)';
    case 'EACCES': return 'permission denied';
    case 'EADDRNOTAVAIL': return 'no such address on this machine';
    case 'ENOENT': return 'no such directory';
    default: return e.message;
  }
}

async function listenTcp(host: string, port: number, backlog: number): Promise<Listening> {
  const server = newServer();
  const shown = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  try {
    await listenOn(server, { host, port, backlog, exclusive: true });
  } catch (error) {
    throw new RunfcgiError(`cannot listen on ${shown}: ${reason(error)}`);
  }
  return { server, address: `tcp:${shown}`, cleanup: () => {} };
}

/** Resolves true when something accepts connections at `socketPath`. */
function answers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.connect(socketPath);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

/**
 * Binds to a temporary name beside `socketPath` and renames it into place.
 * libuv unlinks the path it bound when the server closes, even if another
 * server owns that path by then: binding a temporary name keeps that unlink
 * away from the real path, and rename() replaces a stale file atomically.
 */
async function listenUnix(socketPath: string, backlog: number): Promise<Listening> {
  const dir = path.dirname(socketPath);
  if (!fs.existsSync(dir)) {
    throw new RunfcgiError(`cannot listen on ${socketPath}: directory ${dir} does not exist`);
  }
  const existing = fs.lstatSync(socketPath, { throwIfNoEntry: false });
  if (existing !== undefined) {
    if (!existing.isSocket()) {
      throw new RunfcgiError(`cannot listen on ${socketPath}: a file that is not a socket is in the way (remove it, or choose another socket=)`);
    }
    if (await answers(socketPath)) {
      throw new RunfcgiError(`cannot listen on ${socketPath}: another server is answering on it (stop it first, or choose another socket=)`);
    }
  }
  const temporary = path.join(dir, `.runfcgi-${process.pid}.sock`);
  const bindPath = Buffer.byteLength(temporary) <= 107 ? temporary : socketPath;
  fs.rmSync(bindPath, { force: true });
  const server = newServer();
  try {
    await listenOn(server, { path: bindPath, backlog });
    if (bindPath !== socketPath) fs.renameSync(bindPath, socketPath);
  } catch (error) {
    server.close();
    throw new RunfcgiError(`cannot listen on ${socketPath}: ${reason(error)}`);
  }
  const { ino, dev } = fs.statSync(socketPath);
  const cleanup = (): void => {
    const now = fs.statSync(socketPath, { throwIfNoEntry: false });
    // Another master may have taken the path over since: leave its socket alone.
    if (now !== undefined && now.ino === ino && now.dev === dev) fs.rmSync(socketPath, { force: true });
  };
  return { server, address: `unix:${socketPath}`, cleanup };
}

/**
 * Listens on an inherited descriptor if it is a listening socket. A
 * connected socket (a socketpair, say) is a socket too: only listen()
 * succeeding tells them apart.
 */
async function listenFd(fd: number): Promise<net.Server | undefined> {
  let stat: fs.Stats;
  try {
    stat = fs.fstatSync(fd);
  } catch {
    return undefined;
  }
  if (!stat.isSocket()) return undefined;
  const server = newServer();
  try {
    await listenOn(server, { fd });
    return server;
  } catch {
    return undefined;
  }
}

function systemdFd(env: NodeJS.ProcessEnv): number | undefined {
  if (env.LISTEN_PID !== String(process.pid)) return undefined;
  const count = Number(env.LISTEN_FDS);
  return Number.isInteger(count) && count >= 1 ? SD_LISTEN_FDS_START : undefined;
}

export async function listen(options: ListenOptions, env: NodeJS.ProcessEnv = process.env): Promise<Listening> {
  const backlog = options.backlog ?? 1024;
  if (options.socket !== undefined) return listenUnix(options.socket, backlog);
  if (options.host !== undefined && options.port !== undefined) return listenTcp(options.host, options.port, backlog);
  const fromServer = await listenFd(FCGI_LISTENSOCK_FILENO);
  if (fromServer !== undefined) return { server: fromServer, address: 'fd 0', cleanup: () => {} };
  const sdFd = systemdFd(env);
  if (sdFd !== undefined) {
    const server = await listenFd(sdFd);
    if (server !== undefined) return { server, address: `fd ${sdFd} (systemd)`, cleanup: () => {} };
  }
  throw new UsageError(NO_ADDRESS_MESSAGE);
}
