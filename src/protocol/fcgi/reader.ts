// Reading a connection into one shared buffer, as Node's `onread` option does for sockets we connect.

import net from 'node:net';

/**
 * Node reads a socket created with `onread: { buffer, callback }` straight
 * into that buffer and calls back, without a Buffer per read or the Readable
 * machinery (its HTTP server does the like in C++). Sockets a server accepts
 * cannot ask for it, so we give them the same three fields a client socket
 * gets. They are Node's internals: found once, by name, on a client socket,
 * and when they are not there (another Node), connections read as usual.
 */
const SYMBOLS = ((): { buffer: symbol; callback: symbol; generator: symbol } | undefined => {
  // `onread` is documented for net.connect(); @types/node knows it only there.
  const options = { onread: { buffer: Buffer.alloc(1), callback: () => {} } } as net.SocketConstructorOpts;
  const probe = new net.Socket(options);
  const find = (name: string): symbol | undefined => Object.getOwnPropertySymbols(probe).find((s) => s.description === name);
  const buffer = find('kBuffer');
  const callback = find('kBufferCb');
  const generator = find('kBufferGen');
  probe.destroy();
  if (buffer === undefined || callback === undefined || generator === undefined) return undefined;
  return { buffer, callback, generator };
})();

/** One per worker: every read callback runs to its end before the next read. */
const SHARED = Buffer.allocUnsafe(64 * 1024);

interface UserBufferHandle {
  useUserBuffer?(buffer: Uint8Array): void;
}

/**
 * Makes `socket` read into the shared buffer and call `onChunk` with a view
 * of what was read. The view is valid only during the call: what is kept
 * must be copied. Returns false when this Node cannot do it (then use 'data').
 */
export function readIntoSharedBuffer(socket: net.Socket, onChunk: (chunk: Buffer) => boolean | void): boolean {
  const handle = (socket as unknown as { _handle: UserBufferHandle | null })._handle;
  if (SYMBOLS === undefined || handle === null || typeof handle.useUserBuffer !== 'function') return false;
  const fields = socket as unknown as Record<symbol, unknown>;
  fields[SYMBOLS.buffer] = SHARED;
  fields[SYMBOLS.generator] = null;
  fields[SYMBOLS.callback] = (nread: number, buffer: Buffer): boolean => onChunk(buffer.subarray(0, nread)) !== false;
  handle.useUserBuffer(SHARED);
  return true;
}
