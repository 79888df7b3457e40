// The master's listening socket: bound here, listened on and accepted from by the workers only.

import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { getSystemErrorName } from 'node:util';
import { RunfcgiError, UsageError } from './errors.js';
import type { Logger } from './log.js';
import type { Method } from './options.js';
import { lookupGroup, lookupUser } from './accounts.js';
import { isAlive } from './procfs.js';

export interface Listener {
  /** The descriptor workers get as their fd 0. */
  fd: number;
  /** For logs and messages: 'unix:/path', 'tcp:127.0.0.1:3033', 'fd 0'. */
  address: string;
  /** The socket came from the web server (fd 0) or systemd: we did not bind it. */
  inherited: boolean;
  /**
   * Gives a UNIX socket its name, once a worker listens on it: bound but not
   * yet listening, it would refuse the connections that find it (during a
   * restart, those the stopping master no longer takes). No-op otherwise.
   */
  publish(): void;
  /** Lets go of the socket (after the workers have stopped accepting). */
  close(): void;
  /** Removes the UNIX socket file, only if it is still the one we created. Idempotent. */
  cleanup(): void;
  /** A successor can take this socket over (a UNIX path: it renames its own into place). */
  canHandOver: boolean;
  /** Tells a successor it may take the socket over (see handingOver()). */
  announceHandover(): void;
  /** The socket path now leads to another socket than ours. */
  takenOver(): boolean;
}

/** Node's own bind-without-listen (what cluster uses): nothing in the master polls the socket. */
interface ServerHandle {
  readonly fd: number;
  close(): void;
  getsockname?(out: { port?: number }): number;
}
type CreateServerHandle = (address: string | null, port: number, addressType: number, fd?: number) => ServerHandle | number;
const createServerHandle = (net as unknown as { _createServerHandle: CreateServerHandle })._createServerHandle;

export const NO_ADDRESS_MESSAGE =
  'nothing to listen on: give socket=PATH (a UNIX socket) or host=ADDRESS port=PORT (TCP), ' +
  'or let a web server spawn runfcgi with its listening socket on fd 0 (mod_fcgid, lighttpd bin-path, spawn-fcgi)';

/** sd_listen_fds(3): systemd passes activated sockets from fd 3. */
const SD_LISTEN_FDS_START = 3;

export function errnoReason(code: string | undefined, fallback = ''): string {
  switch (code) {
    case 'EADDRINUSE': return 'address already in use (is another server running there?)';
    case 'EACCES': return 'permission denied';
    case 'EADDRNOTAVAIL': return 'no such address on this machine';
    case 'ENOENT': return 'no such directory';
    default: return code ?? fallback;
  }
}

/**
 * Threads share the master's descriptors, and libuv closes an fd >= 3 for
 * the whole process when one thread's server closes; fds 0-2 it never
 * closes. So for threads the socket must sit on fd 0: close stdin (a server
 * never reads it) and the next descriptor created takes its number.
 */
function freeFd0(method: Method): void {
  if (method !== 'threaded') return;
  // libuv opens a spare descriptor when it creates its first stream (its
  // EMFILE trick); let that happen now, or it would take fd 0 from us.
  // (A throwaway handle on an ephemeral loopback port, closed at once.)
  const spare = createServerHandle('127.0.0.1', 0, 4);
  if (typeof spare !== 'number') spare.close();
  fs.closeSync(0);
}

/** What only a socket file of ours does: nothing, for TCP and inherited sockets. */
const notAFile = { canHandOver: false, announceHandover: () => {}, takenOver: () => false, publish: () => {} };

function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (!done) {
      done = true;
      fn();
    }
  };
}

/** Closes our copy of the socket; on fd 0 libuv leaves that to us. */
function release(handle: ServerHandle): void {
  const fd = handle.fd;
  handle.close();
  if (fd === 0) fs.closeSync(0);
}

function bound(handle: ServerHandle | number, what: string, method: Method): ServerHandle {
  if (typeof handle === 'number') throw new RunfcgiError(`cannot listen on ${what}: ${errnoReason(getSystemErrorName(handle))}`);
  if (method === 'threaded' && handle.fd !== 0) {
    handle.close();
    throw new RunfcgiError(`cannot listen on ${what}: the socket did not land on fd 0 (got fd ${handle.fd}), which worker threads need`);
  }
  return handle;
}

/** Binds, retrying for a few seconds while the port is in use (a predecessor letting go of it). */
async function bindTcp(host: string, port: number, method: Method, log: Logger): Promise<Listener> {
  const deadline = Date.now() + WAIT_FREE_MS;
  let logged = false;
  for (;;) {
    try {
      return await bindTcpOnce(host, port, method);
    } catch (error) {
      if (!(error instanceof AddressInUse) || Date.now() > deadline) throw error;
      if (!logged) log.info({ host, port }, 'address in use: waiting for it to be released');
      logged = true;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

class AddressInUse extends RunfcgiError {}

async function bindTcpOnce(host: string, port: number, method: Method): Promise<Listener> {
  const shown = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  let address = host;
  let family = net.isIP(host);
  if (family === 0) {
    try {
      // Loaded only for a host name: the resolver reads its configuration as it loads.
      const dns = await import('node:dns/promises');
      ({ address, family } = await dns.lookup(host));
    } catch {
      throw new RunfcgiError(`cannot listen on ${shown}: host name ${host} does not resolve`);
    }
  }
  freeFd0(method);
  const handle = bound(createServerHandle(address, port, family), shown, method);
  // libuv keeps a bind's EADDRINUSE for listen(), which only a worker calls:
  // an unbound socket would then listen on a random port. Ask what we got.
  const name: { port?: number } = {};
  if (handle.getsockname?.(name) !== 0 || name.port !== port) {
    release(handle);
    throw new AddressInUse(`cannot listen on ${shown}: ${errnoReason('EADDRINUSE')}`);
  }
  return { fd: handle.fd, address: `tcp:${shown}`, inherited: false, close: once(() => release(handle)), cleanup: () => {}, ...notAFile };
}

/** Resolves true when something accepts connections at `socketPath`. */
export function answers(socketPath: string): Promise<boolean> {
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
 * A master that stops on SIGTERM writes PATH.handover with its pid and the
 * inode of its socket file, and keeps answering until a successor replaces
 * the file. The pid of that master if the socket at the path is still its own.
 */
function handingOver(socketPath: string): number | undefined {
  const text = readText(`${socketPath}.handover`);
  if (text === '') return undefined;
  const [pid, ino] = text.trim().split(' ').map(Number);
  const now = fs.statSync(socketPath, { throwIfNoEntry: false });
  if (pid === undefined || now === undefined || now.ino !== ino || !isAlive(pid)) return undefined;
  return pid;
}

function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** How long a start waits for another server's socket to go quiet before giving up. */
const WAIT_FREE_MS = 3000;

/**
 * A live socket at the path is refused, unless it belongs to a runfcgi that
 * is stopping (the restart script: kill, then start at once): that one we
 * replace while it still answers, so no connection finds nobody there.
 * Anything else answering gets a few seconds to stop.
 */
async function waitUntilFree(socketPath: string, log: Logger): Promise<void> {
  const deadline = Date.now() + WAIT_FREE_MS;
  while (await answers(socketPath)) {
    const stopping = handingOver(socketPath);
    if (stopping !== undefined) {
      log.info({ socket: socketPath, stoppingPid: stopping }, 'taking the socket over from a stopping runfcgi');
      return;
    }
    if (Date.now() > deadline) {
      throw new RunfcgiError(`cannot listen on ${socketPath}: another server is answering on it (stop it first, or choose another socket=)`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface SocketAccess {
  socketmode?: number | undefined;
  socketowner?: string | undefined;
  socketgroup?: string | undefined;
}

/** socketmode=, socketowner=, socketgroup=: who may connect (PHP-FPM's listen.mode/owner/group). */
function setAccess(socketPath: string, access: SocketAccess): void {
  try {
    if (access.socketmode !== undefined) fs.chmodSync(socketPath, access.socketmode);
    if (access.socketowner !== undefined || access.socketgroup !== undefined) {
      const uid = access.socketowner === undefined ? -1 : lookupUser(access.socketowner).uid;
      const gid = access.socketgroup === undefined ? -1 : lookupGroup(access.socketgroup, 'socketgroup');
      fs.chownSync(socketPath, uid, gid);
    }
  } catch (error) {
    if (error instanceof RunfcgiError) throw error;
    throw new RunfcgiError(`cannot set the owner or mode of ${socketPath}: ${errnoReason((error as NodeJS.ErrnoException).code, (error as Error).message)}`);
  }
}

/**
 * Binds a temporary name beside `socketPath`; publish() renames it into place
 * once a worker listens. libuv unlinks the path it bound when the handle
 * closes, even if another server owns that path by then: binding a temporary
 * name keeps that unlink away from the real path, and rename() replaces a
 * stopping predecessor's socket atomically. (A path too long for the
 * temporary name is bound as it is, and refuses connections until a worker
 * listens.)
 */
async function bindUnix(socketPath: string, method: Method, log: Logger, access: SocketAccess): Promise<Listener> {
  const dir = path.dirname(socketPath);
  if (!fs.existsSync(dir)) throw new RunfcgiError(`cannot listen on ${socketPath}: directory ${dir} does not exist`);
  const existing = fs.lstatSync(socketPath, { throwIfNoEntry: false });
  if (existing !== undefined) {
    if (!existing.isSocket()) {
      throw new RunfcgiError(`cannot listen on ${socketPath}: a file that is not a socket is in the way (remove it, or choose another socket=)`);
    }
    await waitUntilFree(socketPath, log);
  }
  const temporary = path.join(dir, `.runfcgi-${process.pid}.sock`);
  const bindPath = Buffer.byteLength(temporary) <= 107 ? temporary : socketPath;
  fs.rmSync(bindPath, { force: true });
  freeFd0(method);
  const handle = bound(createServerHandle(bindPath, -1, -1), socketPath, method);
  let ino: number;
  let dev: number;
  try {
    // Mode and owner before the socket takes its name: nobody connects too early.
    setAccess(bindPath, access);
    ({ ino, dev } = fs.statSync(bindPath));
  } catch (error) {
    handle.close();
    if (error instanceof RunfcgiError) throw error;
    throw new RunfcgiError(`cannot listen on ${socketPath}: ${(error as Error).message}`);
  }
  const ours = (): boolean => {
    const now = fs.statSync(socketPath, { throwIfNoEntry: false });
    return now !== undefined && now.ino === ino && now.dev === dev;
  };
  return {
    fd: handle.fd,
    address: `unix:${socketPath}`,
    inherited: false,
    // The rename replaces a stopping predecessor's socket atomically: every connection finds a listener.
    publish: once(() => {
      if (bindPath === socketPath) return;
      try {
        fs.renameSync(bindPath, socketPath);
      } catch (error) {
        throw new RunfcgiError(`cannot listen on ${socketPath}: ${errnoReason((error as NodeJS.ErrnoException).code, (error as Error).message)}`);
      }
    }),
    close: once(() => release(handle)),
    // Another master may have taken the path over since: leave its socket alone.
    cleanup: () => {
      if (ours()) fs.rmSync(socketPath, { force: true });
      // Our handover note goes with us; a successor's stays.
      const marker = `${socketPath}.handover`;
      if (readText(marker).startsWith(`${process.pid} `)) fs.rmSync(marker, { force: true });
    },
    canHandOver: true,
    announceHandover: () => fs.writeFileSync(`${socketPath}.handover`, `${process.pid} ${ino}\n`),
    takenOver: () => !ours(),
  };
}

function isSocket(fd: number): boolean {
  try {
    return fs.fstatSync(fd).isSocket();
  } catch {
    return false;
  }
}

/** The socket a web server or systemd handed us. Whether it listens, the first worker's listen() tells. */
function inheritedListener(method: Method, env: NodeJS.ProcessEnv): Listener {
  const nothing = { close: () => {}, cleanup: () => {}, inherited: true, ...notAFile };
  if (isSocket(0)) return { fd: 0, address: 'fd 0', ...nothing };
  const count = Number(env.LISTEN_FDS);
  if (env.LISTEN_PID === String(process.pid) && Number.isInteger(count) && count >= 1 && isSocket(SD_LISTEN_FDS_START)) {
    if (method === 'threaded') {
      throw new UsageError('method=threaded cannot serve a systemd socket (fd 3) yet: use method=prefork');
    }
    return { fd: SD_LISTEN_FDS_START, address: 'fd 3 (systemd)', ...nothing };
  }
  throw new UsageError(NO_ADDRESS_MESSAGE);
}

export async function bindListener(
  options: { host?: string | undefined; port?: number | undefined; socket?: string | undefined; method: Method; pm?: string } & SocketAccess,
  log: Logger,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Listener> {
  // Workers on demand: the master watches the socket while no worker runs, and
  // that watch must end without closing it, which libuv does only for fds 0-2
  // (see ondemand.ts). So the socket sits on fd 0, as threads need it.
  const placement: Method = options.pm === 'ondemand' ? 'threaded' : options.method;
  if (options.socket !== undefined) return bindUnix(options.socket, placement, log, options);
  if (options.host !== undefined && options.port !== undefined) return bindTcp(options.host, options.port, placement, log);
  return inheritedListener(options.method, env);
}
