// A listening socket passed between two unrelated processes over libuv's IPC pipes (see shared/uv-pipes.ts).

import fs from 'node:fs';
import { getSystemErrorName } from 'node:util';
import { write, type Internals, type PipeHandle, type UvHandle } from '../../shared/uv-pipes.js';
import { once } from '../../shared/once.js';
import { freeFd0, keepFd0Taken, type Placement } from './fd0.js';

/**
 * Accepted connections on a libuv pipe server are never IPC pipes, and only
 * IPC pipes send handles: an IPC pipe is opened on the accepted descriptor.
 * Both handles then name one descriptor; the IPC pipe closes it, and the
 * accepted one is kept here, never closed (it would close the number again,
 * maybe someone else's by then). One per handover, in a master that is leaving.
 */
const retired: PipeHandle[] = [];

/** What a successor sends once it serves: the old master may stop. */
const TAKEN = 'T';
/** What comes with the handle. */
const OFFER = 'L';

export interface Offer {
  /** Stops offering; removes the socket file. Idempotent. */
  close(): void;
}

/**
 * Listens at `path` (a private place: see handover.ts) and gives `handle` to
 * the first process that connects; `taken` runs when that process says it
 * serves. Returns the reason when the path cannot be listened on.
 */
export function offerHandle(ipc: Internals, path: string, handle: UvHandle, taken: () => void): Offer | string {
  return listenOnce(ipc, path, (pipe) => {
    pipe.onread = (buffer) => {
      if (buffer !== undefined) taken();
      pipe.close();
    };
    pipe.readStart();
    write(ipc, pipe, OFFER, () => {}, handle);
  });
}

/**
 * Listens at `path` (a private place, mode 0600) for one process, and gives
 * `connected` an IPC pipe to it. Returns the reason when it cannot listen.
 */
export function listenOnce(ipc: Internals, path: string, connected: (pipe: PipeHandle) => void): Offer | string {
  return listenForPipes(ipc, path, connected, true);
}

/**
 * Listens at `path` (a private place, mode 0600), and gives `connected` an
 * IPC pipe to each process or thread that connects (after the first one
 * only, with `once`). Returns the reason when it cannot listen.
 */
export function listenForPipes(ipc: Internals, path: string, connected: (pipe: PipeHandle) => void, once = false): Offer | string {
  fs.rmSync(path, { force: true });
  const server = new ipc.Pipe(ipc.types.SERVER);
  const err = server.bind(path) || server.listen(once ? 1 : 511);
  if (err !== 0) {
    server.close();
    return `cannot listen at ${path}: ${getSystemErrorName(err)}`;
  }
  fs.chmodSync(path, 0o600);
  let open = true;
  const stopListening = (): void => {
    if (!open) return;
    open = false;
    server.close();
    fs.rmSync(path, { force: true });
  };
  server.onconnection = (status, client) => {
    if (status !== 0 || client === undefined) return;
    // One successor only: a second start would find the port its own.
    if (once) stopListening();
    const pipe = new ipc.Pipe(ipc.types.IPC);
    if (pipe.open(client.fd) !== 0) {
      client.close();
      return;
    }
    retired.push(client);
    connected(pipe);
  };
  return { close: stopListening };
}

export interface Received {
  handle: UvHandle;
  /** Tells the sender we serve now (it stops), and hangs up. */
  confirm(): void;
  /** Hangs up without confirming: the sender stops on its own time. */
  close(): void;
}

/**
 * Connects to `path` and receives the handle offered there. With placement
 * 'fd0', fd 0 is freed just before it arrives, so that the descriptor takes
 * number 0 (the caller checks that it did); until then it stays taken, so
 * that the pipe we open does not land there. Resolves
 * undefined when nobody offers one within `timeoutMs`.
 */
export function receiveHandle(ipc: Internals, path: string, placement: Placement, timeoutMs: number): Promise<Received | undefined> {
  return new Promise((resolve) => {
    if (placement === 'fd0') keepFd0Taken();
    const pipe = new ipc.Pipe(ipc.types.IPC);
    let settled = false;
    const hangUp = once(() => pipe.close());
    const settle = (value: Received | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (value === undefined) hangUp();
      resolve(value);
    };
    const timer = setTimeout(() => settle(undefined), timeoutMs);
    pipe.onread = (buffer) => {
      const handle = pipe.pendingHandle ?? undefined;
      pipe.pendingHandle = null;
      if (handle === undefined || buffer === undefined) return settle(undefined);
      settle({
        handle,
        confirm: () => write(ipc, pipe, TAKEN, hangUp),
        close: hangUp,
      });
    };
    const req = new ipc.PipeConnectWrap();
    req.oncomplete = (status) => {
      if (status !== 0) return settle(undefined);
      // The lowest free number goes to the next descriptor: the one received.
      freeFd0(placement);
      if (pipe.readStart() !== 0) settle(undefined);
    };
    if (pipe.connect(req, path) !== 0) settle(undefined);
  });
}
