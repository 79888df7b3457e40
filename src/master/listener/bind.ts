// The master's listening socket: bound here, listened on and accepted from by the workers only.

import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { getSystemErrorName } from 'node:util';
import { errnoWords, RunfcgiError, UsageError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { Method } from '../../config/options.js';
import { closeHandle, freeFd0, misplaced, placementFor, type Placement } from './fd0.js';
import { lookupGroup, lookupUser } from '../accounts.js';
import { handingOver, NO_HANDOVER, takeOverTcp, tcpHandover, unixHandover, type Handover } from './handover.js';
import type { Received } from './ipc-pipe.js';
import { once } from '../../shared/once.js';

export interface Listener extends Omit<Handover, 'cleanupHandover'> {
  /** The descriptor workers get as their fd 0. */
  fd: number;
  /** For logs and messages: 'unix:/path', 'tcp:127.0.0.1:3033', 'fd 0'. */
  address: string;
  /** The socket came from the web server (fd 0) or systemd: we did not bind it. */
  inherited: boolean;
  /** Lets go of the socket (after the workers have stopped accepting). */
  close(): void;
  /** Removes the UNIX socket file, only if it is still the one we created, and what a handover left. Idempotent. */
  cleanup(): void;
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

// master.ts reads it from here.
export { errnoWords as errnoReason };

/** libuv opens a spare descriptor with its first stream (see freeFd0): a throwaway handle on an ephemeral loopback port, closed at once. */
function openSpareFirst(): void {
  const spare = createServerHandle('127.0.0.1', 0, 4);
  if (typeof spare !== 'number') spare.close();
}

function bound(handle: ServerHandle | number, what: string, placement: Placement): ServerHandle {
  if (typeof handle === 'number') throw new RunfcgiError(`cannot listen on ${what}: ${errnoWords(getSystemErrorName(handle))}`);
  const why = misplaced(placement, handle.fd);
  if (why !== undefined) {
    handle.close();
    throw new RunfcgiError(`cannot listen on ${what}: ${why}`);
  }
  return handle;
}

/** host= as an address: a host name is resolved once. */
async function resolveHost(host: string, shown: string): Promise<{ address: string; family: number }> {
  const family = net.isIP(host);
  if (family !== 0) return { address: host, family };
  try {
    // Loaded only for a host name: the resolver reads its configuration as it loads.
    const dns = await import('node:dns/promises');
    return await dns.lookup(host);
  } catch {
    throw new RunfcgiError(`cannot listen on ${shown}: host name ${host} does not resolve`);
  }
}

/**
 * Binds the port; while it is in use, takes the socket over from a stopping
 * runfcgi that offers it (the restart script: kill, then start at once), or
 * waits a few seconds for its holder to let go of it.
 */
async function bindTcp(host: string, port: number, placement: Placement, log: Logger, uids: number[]): Promise<Listener> {
  const shown = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  const { address, family } = await resolveHost(host, shown);
  const deadline = Date.now() + WAIT_FREE_MS;
  let logged = false;
  for (;;) {
    try {
      const handle = bindTcpOnce(address, port, family, shown, placement);
      return tcpListener(handle, shown, address, port, log);
    } catch (error) {
      if (!(error instanceof AddressInUse) || Date.now() > deadline) throw error;
    }
    const received = await takeOverTcp(address, port, uids, placement, log);
    if (received !== undefined) {
      log.info({ host, port }, 'taking the socket over from a stopping runfcgi');
      return tcpListener(received.handle as ServerHandle, shown, address, port, log, received);
    }
    if (!logged) log.info({ host, port }, 'address in use: waiting for it to be released');
    logged = true;
    await new Promise((r) => setTimeout(r, 100));
  }
}

function tcpListener(handle: ServerHandle, shown: string, address: string, port: number, log: Logger, received?: Received): Listener {
  const { cleanupHandover, ...handover } = tcpHandover(handle, address, port, log, received);
  return { fd: handle.fd, address: `tcp:${shown}`, inherited: false, close: once(() => closeHandle(handle)), cleanup: cleanupHandover, ...handover };
}

class AddressInUse extends RunfcgiError {}

function bindTcpOnce(address: string, port: number, family: number, shown: string, placement: Placement): ServerHandle {
  freeFd0(placement, openSpareFirst);
  const handle = bound(createServerHandle(address, port, family), shown, placement);
  // libuv keeps a bind's EADDRINUSE for listen(), which only a worker calls:
  // an unbound socket would then listen on a random port. Ask what we got.
  const name: { port?: number } = {};
  if (handle.getsockname?.(name) !== 0 || name.port !== port) {
    closeHandle(handle);
    throw new AddressInUse(`cannot listen on ${shown}: ${errnoWords('EADDRINUSE')}`);
  }
  return handle;
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
 * How long a start waits for another server's socket to go quiet, or for a
 * stopping runfcgi to say it hands the socket over, before giving up. The
 * restart script starts the next master right after its `kill`: on a loaded
 * machine the old master may take seconds to act on the SIGTERM, and 3 s
 * once made a back-to-back restart fail (CI, under a wrk flood).
 */
const WAIT_FREE_MS = 10_000;

/**
 * A live socket at the path is refused, unless it belongs to a runfcgi that
 * is stopping (the restart script: kill, then start at once): that one we
 * replace while it still answers, so no connection finds nobody there.
 * Anything else answering gets WAIT_FREE_MS to stop.
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
    throw new RunfcgiError(`cannot set the owner or mode of ${socketPath}: ${errnoWords(error)}`);
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
async function bindUnix(socketPath: string, placement: Placement, log: Logger, access: SocketAccess): Promise<Listener> {
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
  freeFd0(placement, openSpareFirst);
  const handle = bound(createServerHandle(bindPath, -1, -1), socketPath, placement);
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
  // The rename replaces a stopping predecessor's socket atomically: every connection finds a listener.
  const rename = once(() => {
    if (bindPath === socketPath) return;
    try {
      fs.renameSync(bindPath, socketPath);
    } catch (error) {
      throw new RunfcgiError(`cannot listen on ${socketPath}: ${errnoWords(error)}`);
    }
  });
  const { cleanupHandover, ...handover } = unixHandover(socketPath, ino, ours, rename);
  return {
    fd: handle.fd,
    address: `unix:${socketPath}`,
    inherited: false,
    close: once(() => closeHandle(handle)),
    // Another master may have taken the path over since: leave its socket alone.
    cleanup: () => {
      if (ours()) fs.rmSync(socketPath, { force: true });
      cleanupHandover();
    },
    ...handover,
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
  const { cleanupHandover: cleanup, ...handover } = NO_HANDOVER;
  const nothing = { close: () => {}, cleanup, inherited: true, ...handover };
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

/** Whose rendezvous a TCP handover may be in: ours; as root, also user='s (a threaded master runs as that user). */
function handoverUids(user: string | undefined): number[] {
  const own = process.geteuid?.() ?? 0;
  return own === 0 && user !== undefined ? [own, lookupUser(user).uid] : [own];
}

export async function bindListener(
  options: { host?: string | undefined; port?: number | undefined; socket?: string | undefined; method: Method; pm?: string; user?: string | undefined } & SocketAccess,
  log: Logger,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Listener> {
  const placement = placementFor(options);
  if (options.socket !== undefined) return bindUnix(options.socket, placement, log, options);
  if (options.host !== undefined && options.port !== undefined) return bindTcp(options.host, options.port, placement, log, handoverUids(options.user));
  return inheritedListener(options.method, env);
}
