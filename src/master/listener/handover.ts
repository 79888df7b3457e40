// Restarts that refuse no connection: a stopping master hands its listening socket to the next one (a UNIX path, or the TCP descriptor itself).

import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../../shared/log.js';
import { isAlive } from '../../shared/procfs.js';
import { offerHandle, receiveHandle, type Offer, type Received } from './ipc-pipe.js';
import { ipcPipes, type UvHandle } from '../../shared/uv-pipes.js';
import { once } from '../../shared/once.js';
import { closeHandle, misplaced, type Placement } from './fd0.js';

/**
 * What a listener can do for a restart (kill, then start at once). On
 * SIGTERM the master announces a handover and keeps serving; the next master
 * takes the socket over and publishes it once its first worker listens;
 * then takenOver() turns true and the old master finishes what it has.
 */
export interface Handover {
  /** A successor can take this socket over. */
  canHandOver: boolean;
  /** Tells a successor it may take the socket over. */
  announceHandover(): void;
  /** A successor serves on the socket now. */
  takenOver(): boolean;
  /** Ours to serve now: a UNIX socket takes its name; a predecessor that gave us a TCP socket may stop. */
  publish(): void;
  /** Removes what announceHandover() left behind, if still ours. */
  cleanupHandover(): void;
}

/**
 * On SIGTERM, how long workers keep accepting while a successor may take
 * the socket over (the restart script starts one at once). Once it is
 * taken, or this has passed, the graceful stop begins.
 */
export const HANDOVER_MS = 2000;
/**
 * The same when the pidfile no longer names us: the restart script removes
 * it right after `kill`, so a successor is on its way, however slowly it
 * boots on a busy machine. A plain `kill` leaves the pidfile: 2 s.
 */
const RESTART_WAIT_MS = 15_000;

/** Until when a master that began to hand over at `since` waits for its successor. */
export function handoverDeadline(since: number, pidfile: string | undefined): number {
  const restarting = pidfile !== undefined && readText(pidfile).trim() !== String(process.pid);
  return since + (restarting ? RESTART_WAIT_MS : HANDOVER_MS);
}

/** What a socket we did not bind (fd 0, systemd) does: nothing. */
export const NO_HANDOVER: Handover = { canHandOver: false, announceHandover: () => {}, takenOver: () => false, publish: () => {}, cleanupHandover: () => {} };

// --- a UNIX socket: a note beside it, then rename() over its path ---

function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/**
 * A master that stops on SIGTERM writes PATH.handover with its pid and the
 * inode of its socket file, and keeps answering until a successor replaces
 * the file. The pid of that master if the socket at the path is still its own.
 */
export function handingOver(socketPath: string): number | undefined {
  const text = readText(`${socketPath}.handover`);
  if (text === '') return undefined;
  const [pid, ino] = text.trim().split(' ').map(Number);
  const now = fs.statSync(socketPath, { throwIfNoEntry: false });
  if (pid === undefined || now === undefined || now.ino !== ino || !isAlive(pid)) return undefined;
  return pid;
}

/** The handover of a socket file: `rename` puts our socket in place (see bind.ts). */
export function unixHandover(socketPath: string, ino: number, ours: () => boolean, rename: () => void): Handover {
  const note = `${socketPath}.handover`;
  return {
    canHandOver: true,
    announceHandover: () => fs.writeFileSync(note, `${process.pid} ${ino}\n`),
    takenOver: () => !ours(),
    publish: rename,
    // Our note goes with us; a successor's stays.
    cleanupHandover: () => {
      if (readText(note).startsWith(`${process.pid} `)) fs.rmSync(note, { force: true });
    },
  };
}

// --- TCP: the descriptor itself, over a UNIX socket only our user can reach ---

/** How long a new master waits for a stopping one to send its socket. */
const RECEIVE_MS = 2000;

/**
 * A directory of `uid`'s, mode 0700, where a stopping master offers what it
 * hands to its successor (whoever connects there gets it, so only that user
 * and root may). Keyed by the address, not the pidfile: however the restart is done.
 */
export function privateDir(uid: number, create: boolean): string | { error: string } {
  const dir = `/tmp/runfcgi-${uid}`;
  if (create) {
    try {
      fs.mkdirSync(dir, { mode: 0o700 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') return { error: `cannot create ${dir}: ${(error as Error).message}` };
    }
  }
  const stat = fs.lstatSync(dir, { throwIfNoEntry: false });
  if (stat === undefined) return { error: `${dir} does not exist` };
  if (!stat.isDirectory() || stat.uid !== uid || (stat.mode & 0o077) !== 0) return { error: `${dir} is not a private directory of uid ${uid}` };
  return dir;
}

/** Where a stopping master offers its TCP socket. */
function rendezvous(uid: number, address: string, port: number, create: boolean): string | { error: string } {
  const dir = privateDir(uid, create);
  return typeof dir === 'string' ? path.join(dir, `tcp-${address}-${port}.sock`) : dir;
}

/** Says once, at start, why a restart on this TCP socket will refuse connections for a moment. */
function unavailable(log: Logger, why: string): Handover {
  log.warn({ reason: why }, 'restarts on TCP cannot hand the socket over: the next master binds the port once this one lets go, and connections are refused meanwhile');
  return NO_HANDOVER;
}

/**
 * The handover of a TCP socket bound at `address`:`port`. `received` is
 * what the predecessor sent, when this master took the socket over.
 */
export function tcpHandover(handle: UvHandle, address: string, port: number, log: Logger, received?: Received): Handover {
  const ipc = ipcPipes();
  if (typeof ipc === 'string') return unavailable(log, ipc);
  let offer: Offer | undefined;
  let taken = false;
  return {
    canHandOver: true,
    announceHandover: () => {
      // The user we run as now: a threaded master has dropped to user= by then.
      const where = rendezvous(process.geteuid?.() ?? 0, address, port, true);
      const made = typeof where === 'string' ? offerHandle(ipc, where, handle, () => (taken = true)) : where.error;
      if (typeof made === 'string') {
        log.warn({ reason: made }, 'cannot offer the TCP socket to a successor: it binds the port once this master lets go');
        taken = true;
        return;
      }
      offer = made;
    },
    takenOver: () => taken,
    publish: received === undefined ? () => {} : once(() => received.confirm()),
    cleanupHandover: () => offer?.close(),
  };
}

/**
 * The TCP socket at `address`:`port` from a master that is stopping, if one
 * offers it (see announceHandover); undefined otherwise. `uids`: whose
 * rendezvous to look in (ours; as root, also user='s, which a threaded master
 * runs as). `placement`: where the socket must land (fd0.ts).
 */
export async function takeOverTcp(address: string, port: number, uids: number[], placement: Placement, log: Logger): Promise<Received | undefined> {
  const ipc = ipcPipes();
  if (typeof ipc === 'string') return undefined;
  for (const uid of new Set(uids)) {
    const where = rendezvous(uid, address, port, false);
    if (typeof where !== 'string' || !fs.existsSync(where)) continue;
    const received = await receiveHandle(ipc, where, placement, RECEIVE_MS);
    if (received === undefined) continue;
    const name: { address?: string; port?: number } = {};
    const fits = received.handle.getsockname?.(name) === 0 && name.port === port && name.address === address;
    const wrongFd = misplaced(placement, received.handle.fd);
    if (fits && wrongFd === undefined) return received;
    const why = wrongFd ?? 'it is not bound to this address';
    log.warn({ address, port }, `a stopping runfcgi sent its socket, but ${why}: binding the port once it lets go`);
    closeHandle(received.handle);
    received.close();
  }
  return undefined;
}
