// Node's libuv IPC pipes (SCM_RIGHTS), reached through its internals: descriptors passed between processes, or between threads.

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
