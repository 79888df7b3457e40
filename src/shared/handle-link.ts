// Lines over a libuv IPC pipe, some carrying a descriptor: how the master and its worker threads pass connections.

import type { Logger } from './log.js';
import { write, type Internals, type PipeHandle, type UvHandle } from './uv-pipes.js';

/**
 * Each message is one line: `h<text>\n` with a descriptor, `n<text>\n`
 * without; `a\n` acknowledges an `h` line. libuv gives one descriptor per
 * read callback and queues the others, so two descriptors in one read would
 * come apart from their lines: as child_process does, a sender has one
 * descriptor in flight at a time and sends the next once it is acknowledged.
 */
const WITH = 'h';
const WITHOUT = 'n';
const ACK = 'a';

interface Outgoing {
  line: string;
  handle: UvHandle | undefined;
  done: (ok: boolean) => void;
}

export class HandleLink {
  /** The `h` line sent last and not yet acknowledged. */
  private awaitingAck = false;
  private readonly queue: Outgoing[] = [];
  /** Told once nothing is queued or awaits its acknowledgement (see whenIdle). */
  private idleWaiters: (() => void)[] = [];
  /** A descriptor that came in a read, for the `h` line it belongs to. */
  private pending: UvHandle | undefined;
  private text = '';
  private state: 'open' | 'closed' = 'open';
  /** Told each message: its text, and its descriptor for an `h` line (ours to close). */
  onMessage: (text: string, handle: UvHandle | undefined) => void = (_text, handle) => handle?.close();
  onClose: () => void = () => {};

  constructor(
    private readonly ipc: Internals,
    private readonly pipe: PipeHandle,
    private readonly log: Logger,
  ) {
    pipe.onread = (buffer) => this.read(buffer);
    if (pipe.readStart() !== 0) this.close();
  }

  get open(): boolean {
    return this.state === 'open';
  }

  /**
   * Sends `text` (no newline in it), with `handle` if given; `done` runs once
   * the line is written (true) or cannot be (false): the receiver holds its
   * own copy of the descriptor from then on, ours may close.
   */
  send(text: string, handle: UvHandle | undefined, done: (ok: boolean) => void = () => {}): void {
    if (this.state === 'closed') return done(false);
    this.queue.push({ line: `${handle === undefined ? WITHOUT : WITH}${text}\n`, handle, done });
    this.next();
  }

  /**
   * Runs `run` once every descriptor sent so far is in the other end's hands
   * (acknowledged), or the link closed: what is said after it, by any other
   * way, comes after them.
   */
  whenIdle(run: () => void): void {
    if (this.state === 'closed' || (!this.awaitingAck && this.queue.length === 0)) run();
    else this.idleWaiters.push(run);
  }

  close(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.pipe.close();
    this.pending?.close();
    this.pending = undefined;
    for (const item of this.queue.splice(0)) item.done(false);
    this.idle();
    this.onClose();
  }

  private idle(): void {
    for (const run of this.idleWaiters.splice(0)) run();
  }

  private next(): void {
    while (this.state === 'open' && !this.awaitingAck) {
      const item = this.queue.shift();
      if (item === undefined) return this.idle();
      if (item.handle !== undefined) this.awaitingAck = true;
      write(this.ipc, this.pipe, item.line, (ok) => {
        if (!ok) this.log.debug('a line to a worker thread link could not be written');
        item.done(ok);
      }, item.handle);
    }
  }

  private read(buffer: ArrayBuffer | undefined): void {
    const handle = this.pipe.pendingHandle ?? undefined;
    this.pipe.pendingHandle = null;
    if (handle !== undefined) this.pending = handle;
    const bytes = this.ipc.readBytes(buffer);
    // The other end is gone (its thread or process ended).
    if (bytes === undefined) return this.close();
    this.text += bytes.toString('latin1');
    for (let end = this.text.indexOf('\n'); end >= 0 && this.state === 'open'; end = this.text.indexOf('\n')) {
      const line = this.text.slice(0, end);
      this.text = this.text.slice(end + 1);
      this.receive(line[0], line.slice(1));
    }
  }

  private receive(kind: string | undefined, text: string): void {
    if (kind === ACK) {
      this.awaitingAck = false;
      this.next();
    } else if (kind === WITH) {
      const handle = this.pending;
      this.pending = undefined;
      write(this.ipc, this.pipe, `${ACK}\n`, () => {});
      if (handle === undefined) this.log.warn('a worker thread link line came without its descriptor: ignored');
      else this.onMessage(text, handle);
    } else if (kind === WITHOUT) {
      this.onMessage(text, undefined);
    }
  }
}
