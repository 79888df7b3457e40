// A kept-alive connection the master holds while the pool sleeps (pm=ondemand): watched for the web server's next bytes or its close, never parsed.

import type { PassedHandle } from './runtime/types.js';

/**
 * What the master reads of one held connection before a worker takes it.
 * Past this it stops reading: the web server's writes wait in the kernel
 * (backpressure) instead of in the master's memory.
 */
export const HELD_READ_LIMIT = 1024 * 1024;

/** A libuv stream handle as Node's bindings show it: the descriptor a worker passed, not a net.Socket. */
export interface ReadableHandle extends PassedHandle {
  onread: (buffer: ArrayBuffer | undefined) => void;
  readStart(): number;
  readStop(): number;
}

/** The bytes one onread call brought (shared/uv-pipes.ts readBytes), or undefined at the end of the stream or on an error. */
export type Decode = (buffer: ArrayBuffer | undefined) => Buffer | undefined;

export interface HeldEvents {
  /** The web server wrote on it: a request is coming, the pool must wake. Called once. */
  bytes(): void;
  /** The web server closed it (EOF) or it failed: the handle is closed already. */
  gone(): void;
}

/** Whether this runtime's passed handle can be watched (a libuv stream: prefork's 'net.Native' handles are). */
export function canWatch(handle: PassedHandle): handle is ReadableHandle {
  const h = handle as Partial<ReadableHandle>;
  return typeof h.readStart === 'function' && typeof h.readStop === 'function' && 'onread' in h;
}

const ignore = (): void => {};

/**
 * One held connection, from the moment the pool sleeps until a worker takes
 * it: 'watching' (reading, keeping what comes), 'full' (HELD_READ_LIMIT read:
 * no more reading), 'ended' (taken by end(), or gone). Reading is all the
 * master does: the bytes go to the worker as they came, with the connection.
 */
export class HeldWatch {
  private state: 'watching' | 'full' | 'ended' = 'watching';
  private readonly chunks: Buffer[] = [];
  private size = 0;

  constructor(
    private readonly handle: ReadableHandle,
    private readonly decode: Decode,
    private readonly events: HeldEvents,
    private readonly limit = HELD_READ_LIMIT,
  ) {
    handle.onread = (buffer) => this.onRead(buffer);
    if (handle.readStart() !== 0) this.lose();
  }

  /** Bytes read so far (kept for the worker). */
  get read(): number {
    return this.size;
  }

  /** Stops watching; returns what was read, for the worker that takes the connection (the handle stays open). */
  end(): Buffer {
    if (this.state !== 'ended') this.stop();
    this.state = 'ended';
    return Buffer.concat(this.chunks);
  }

  private onRead(buffer: ArrayBuffer | undefined): void {
    if (this.state !== 'watching') return;
    const bytes = this.decode(buffer);
    if (bytes === undefined) return this.lose();
    const first = this.size === 0;
    // The decoded view is over libuv's buffer: a copy, as it is reused.
    this.chunks.push(Buffer.from(bytes));
    this.size += bytes.length;
    if (this.size >= this.limit) {
      this.stop();
      this.state = 'full';
    }
    // Once: later bytes only add to what the worker gets.
    if (first) this.events.bytes();
  }

  private stop(): void {
    this.handle.readStop();
    // Node's binding takes only a function here (a null aborts the process).
    this.handle.onread = ignore;
  }

  /** EOF or an error: the web server dropped it; the master closes its copy and forgets it. */
  private lose(): void {
    this.stop();
    this.state = 'ended';
    this.handle.close();
    this.events.gone();
  }
}
