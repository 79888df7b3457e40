// A listening socket passed between two unrelated processes: libuv's IPC pipes (SCM_RIGHTS), reached through Node's internals.

import fs from 'node:fs';
import { getSystemErrorName } from 'node:util';
import { once } from '../../shared/once.js';
import { freeFd0, keepFd0Taken, type Placement } from './fd0.js';

/**
 * Node passes handles over IPC pipes only to and from its own children
 * (child_process). Between two masters it has no public API, so we use the
 * same libuv pipes child_process uses, through `process.binding` (as the
 * master already uses `net._createServerHandle`). Checked on Node 20, 22, 24
 * and 26; where they are missing, `ipcPipes()` says why and restarts on TCP
 * fall back to binding the port anew.
 */

/** A libuv handle as Node's bindings show it. */
export interface UvHandle {
  readonly fd: number;
  close(): void;
  getsockname?(out: { address?: string; port?: number }): number;
}

export interface StreamHandle extends UvHandle {
  onread: ((buffer: ArrayBuffer | undefined) => void) | null;
  pendingHandle?: UvHandle | null;
  readStart(): number;
  writeUtf8String(req: object, data: string, handle?: UvHandle): number;
}

export interface PipeHandle extends StreamHandle {
  open(fd: number): number;
  bind(path: string): number;
  listen(backlog: number): number;
  connect(req: object, path: string): number;
  onconnection: ((status: number, client?: PipeHandle) => void) | null;
}

export interface Internals {
  Pipe: new (type: number) => PipeHandle;
  PipeConnectWrap: new () => { oncomplete?: (status: number) => void };
  WriteWrap: new () => { oncomplete?: (status: number) => void; handle?: UvHandle };
  types: { SOCKET: number; SERVER: number; IPC: number };
  /** Whether the last write completes later (then its oncomplete is called), from stream_wrap. */
  lastWriteWasAsync(): boolean;
  /** The bytes an onread call brought (stream_wrap's state), or undefined at the end or on an error. */
  readBytes(buffer: ArrayBuffer | undefined): Buffer | undefined;
}

type Binding = (name: string) => Record<string, unknown>;

/**
 * process.binding() prints DEP0111 under --pending-deprecation: a warning
 * about our internals the user can do nothing about. Silenced for our calls.
 */
function binding(name: string): Record<string, unknown> {
  const quiet = process.noDeprecation;
  process.noDeprecation = true;
  try {
    return (process as unknown as { binding: Binding }).binding(name);
  } finally {
    process.noDeprecation = quiet;
  }
}

let internals: Internals | string | undefined;

/** Node's pipe internals, or the reason they cannot be used here. */
function load(): Internals | string {
  try {
    const pipeWrap = binding('pipe_wrap') as { Pipe?: Internals['Pipe']; PipeConnectWrap?: Internals['PipeConnectWrap']; constants?: Record<string, number> };
    const streamWrap = binding('stream_wrap') as { WriteWrap?: Internals['WriteWrap']; streamBaseState?: Int32Array; kLastWriteWasAsync?: number; kReadBytesOrError?: number; kArrayBufferOffset?: number };
    const { Pipe, PipeConnectWrap, constants } = pipeWrap;
    const { WriteWrap, streamBaseState: state, kLastWriteWasAsync: async, kReadBytesOrError: nread, kArrayBufferOffset: offset } = streamWrap;
    const types = { SOCKET: constants?.SOCKET, SERVER: constants?.SERVER, IPC: constants?.IPC };
    if (typeof Pipe !== 'function' || typeof PipeConnectWrap !== 'function' || typeof WriteWrap !== 'function' || state === undefined || async === undefined || nread === undefined || offset === undefined) {
      return `Node ${process.version} lacks the pipe internals it needs`;
    }
    if (types.SOCKET === undefined || types.SERVER === undefined || types.IPC === undefined) return `Node ${process.version} has no IPC pipes`;
    const readBytes = (buffer: ArrayBuffer | undefined): Buffer | undefined => {
      const n = state[nread]!;
      return buffer === undefined || n <= 0 ? undefined : Buffer.from(buffer, state[offset]!, n);
    };
    return { Pipe, PipeConnectWrap, WriteWrap, types: types as Internals['types'], lastWriteWasAsync: () => state[async] !== 0, readBytes };
  } catch (error) {
    return `Node ${process.version} refuses process.binding (${(error as Error).message})`;
  }
}

/** The internals, or a string saying why they cannot be used (logged once by the caller). */
export function ipcPipes(): Internals | string {
  internals ??= load();
  return internals;
}

/**
 * Accepted connections on a libuv pipe server are never IPC pipes, and only
 * IPC pipes send handles: an IPC pipe is opened on the accepted descriptor.
 * Both handles then name one descriptor; the IPC pipe closes it, and the
 * accepted one is kept here, never closed (it would close the number again,
 * maybe someone else's by then). One per handover, in a master that is leaving.
 */
const retired: PipeHandle[] = [];

/** Sends `data` (and a handle); `done` runs once it is written, or failed. */
export function write(ipc: Internals, pipe: StreamHandle, data: string, done: (ok: boolean) => void, handle?: UvHandle): void {
  const req = new ipc.WriteWrap();
  // Kept alive with the request until the write is done.
  if (handle !== undefined) req.handle = handle;
  req.oncomplete = (status) => done(status === 0);
  const err = handle === undefined ? pipe.writeUtf8String(req, data) : pipe.writeUtf8String(req, data, handle);
  if (err !== 0) done(false);
  else if (!ipc.lastWriteWasAsync()) done(true);
}

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
  fs.rmSync(path, { force: true });
  const server = new ipc.Pipe(ipc.types.SERVER);
  const err = server.bind(path) || server.listen(1);
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
    stopListening();
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
