// The "listening socket on fd 0" rules in one place: when the socket must sit on fd 0, how it gets there, how it goes.

import fs from 'node:fs';
import type { Method, ProcessManager } from '../../config/options.js';

/**
 * Where the master must hold the listening socket.
 * - 'fd0': worker threads share the master's descriptors, and libuv closes an fd >= 3 for the
 *   whole process when one thread's server closes; fds 0-2 it never closes. With pm=ondemand
 *   the master watches the socket while no worker runs, and that watch must end without
 *   closing the socket: again only on fds 0-2 (see ondemand.ts).
 * - 'any': worker processes get the socket as their own fd 0 from spawn's stdio, wherever the
 *   master holds it (fd 3 from systemd, say).
 */
export type Placement = 'fd0' | 'any';

export function placementFor(options: { method: Method; pm?: ProcessManager | string | undefined }): Placement {
  return options.method === 'threaded' || options.pm === 'ondemand' ? 'fd0' : 'any';
}

/** Why a socket on `fd` will not do for `placement`; undefined when it will. */
export function misplaced(placement: Placement, fd: number): string | undefined {
  return placement === 'fd0' && fd !== 0 ? `the socket did not land on fd 0 (got fd ${fd}), which worker threads and pm=ondemand need` : undefined;
}

/**
 * Makes fd 0 the number the next descriptor takes (the lowest free one: Node has no dup()).
 * `beforeFirstStream` lets libuv open its spare descriptor first (its EMFILE trick, done when
 * it creates its first stream), which would otherwise take fd 0 from us.
 */
export function freeFd0(placement: Placement, beforeFirstStream?: () => void): void {
  if (placement !== 'fd0') return;
  beforeFirstStream?.();
  closeFd0();
}

/** Closes fd 0 (stdin: a server never reads it), if it is open. */
export function closeFd0(): void {
  try {
    fs.closeSync(0);
  } catch {
    // closed already
  }
}

/**
 * Closes a socket handle and its descriptor: libuv leaves fds 0-2 open when their handle
 * closes, so on fd 0 the descriptor is ours to close.
 */
export function closeHandle(handle: { readonly fd?: number; close?(): void }): void {
  const fd = handle.fd;
  handle.close?.();
  if (fd === 0) closeFd0();
}

/**
 * Puts /dev/null on fd 0 if nothing is there. fd 0 must not stay free: libuv aborts when a
 * descriptor it opens itself lands on fds 0-2, and a free fd 0 is the next one it gets.
 */
export function keepFd0Taken(): void {
  try {
    fs.fstatSync(0);
  } catch {
    fs.openSync('/dev/null', 'r');
  }
}

function statOf(fd: number): fs.Stats | undefined {
  try {
    return fs.fstatSync(fd);
  } catch {
    return undefined;
  }
}

let keptAtExit = false;

/**
 * A socket handed to us on fd 0 (spawn-fcgi, mod_fcgid, lighttpd) stays non-blocking when we exit.
 * Node's exit (ResetStdio in node.cc: an atexit hook, also run by SIGINT/SIGTERM when no listener
 * catches them) puts O_NONBLOCK on fds 0-2 back as it was when the process started, if fd 0 is
 * still the same file. Those servers hand the socket over blocking, and the flag belongs to the
 * open file, shared by every process that holds the socket: one master leaving made it blocking for
 * another master on it (spawn-fcgi -F 2) and that master's workers, whose accept() then waited,
 * and their event loop with it, whenever another process took the connection they woke for.
 * 'exit' listeners run before atexit: /dev/null on fd 0 makes it another file, and Node leaves
 * the socket alone. Call it first thing: from then on every exit but SIGKILL or a crash of Node
 * itself (neither resets anything) goes through 'exit'.
 */
export function keepFd0FlagsAtExit(): void {
  const started = statOf(0);
  if (keptAtExit || started === undefined || !started.isSocket()) return;
  keptAtExit = true;
  process.on('exit', () => {
    const now = statOf(0);
    if (now?.dev !== started.dev || now.ino !== started.ino) return;
    // A worker thread that opens a descriptor between these two lines (one accepted as the
    // process exits) takes fd 0: another file all the same, which is all this needs.
    closeFd0();
    keepFd0Taken();
  });
}
