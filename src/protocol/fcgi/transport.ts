// The life of one FastCGI transport connection: reading records, closing or handing it off once idle.

import { EventEmitter } from 'node:events';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { ProtocolError } from './codec.js';
import { RecordParser } from './parser.js';
import { readIntoSharedBuffer } from './reader.js';
import { RecordWriter } from './writer.js';

/**
 * On a graceful close, how long a connection that has not carried a request
 * yet may take to send one: a web server connects and then sends at once,
 * and unlike a kept-alive connection, a new one is not retried if we close it.
 */
const FIRST_REQUEST_GRACE_MS = 2000;

/** After we end our side, how long the web server may take to close its own. */
const SHUT_LINGER_MS = 5000;

/** An empty write: its callback says when the writes before it are done. */
const NOTHING = Buffer.alloc(0);

/**
 * The life of a connection, one value (it replaced six booleans):
 * - 'fresh': open, no request begun yet;
 * - 'serving': a request has begun; more may follow (FCGI_KEEP_CONN);
 * - 'closing': we end it once no request is active (close(), or a request without FCGI_KEEP_CONN);
 * - 'handing-off': it goes to another process once no request is active (handOff());
 * - 'shut': we ended our side; records still arriving start nothing;
 * - 'handed-off': the transport is another process's now; this object only says 'close';
 * - 'destroyed': we destroyed the transport (bad input, a failed reply, a stop):
 *   its loss is not the web server's doing.
 * The first four read the web server's records; the last three never go back.
 */
export type Phase = 'fresh' | 'serving' | 'closing' | 'handing-off' | 'shut' | 'handed-off' | 'destroyed';

/**
 * Reads records from `socket` and hands them to `onRecord`; writes through
 * `writer`; ends the transport or hands it off when asked, once the requests
 * on it (which the subclass keeps) are done. Emits 'protocolError' before it
 * destroys the socket over bad input, and 'handoff' (see FcgiConnection).
 */
export abstract class FcgiTransport extends EventEmitter {
  readonly socket: Duplex;
  protected readonly parser: RecordParser;
  protected readonly writer: RecordWriter;
  /** Where this connection is in its life: see Phase. */
  protected phase: Phase = 'fresh';
  /** Chunks are views of a buffer the next read overwrites. */
  protected readonly borrowed: boolean;
  /** performance.now() of the last bytes received (idletimeout=, readtimeout=). */
  lastInput = performance.now();
  /** Inside onData: the parser is between records of a read, and keeps the rest of it only once push() returns. */
  private inRead = false;

  constructor(socket: Duplex) {
    super();
    this.socket = socket;
    this.parser = new RecordParser((type, requestId, content) => this.onRecord(type, requestId, content));
    this.writer = new RecordWriter(socket);
    // A socket that reads into the worker's shared buffer lends us each chunk: what we keep, we copy.
    this.borrowed = socket instanceof net.Socket && readIntoSharedBuffer(socket, this.onData);
    if (!this.borrowed) socket.on('data', this.onData);
    // A reset by the peer is ordinary here; 'close' follows and cleans up.
    socket.on('error', () => {});
  }

  /** Requests begun and not yet ended. */
  abstract get activeRequests(): number;
  /** A request of this connection still waits for its params or input. */
  protected abstract waitingForRequestInput(): boolean;
  protected abstract onRecord(type: number, requestId: number, content: Buffer): void;

  /** For a log line when a hand-off takes long: what it waits for. */
  describeHandOff(): object {
    return { phase: this.phase, activeRequests: this.activeRequests, pendingBytes: this.parser.pendingBytes, halted: this.parser.halted, unsentBytes: this.socket.writableLength };
  }

  /** Where this connection is in its life. */
  get state(): Phase {
    return this.phase;
  }

  /** Still reading the web server's records: not shut, handed off or destroyed. */
  protected get open(): boolean {
    return this.phase === 'fresh' || this.phase === 'serving' || this.phase === 'closing' || this.phase === 'handing-off';
  }

  /** Graceful close: end the connection as soon as no request is active on it. */
  close(): void {
    if (!this.open || this.phase === 'handing-off') return;
    const fresh = this.phase === 'fresh';
    this.phase = 'closing';
    // Not at once: first a turn of the event loop reads what the web server
    // has sent already, and a request in it is served. (Timers run before
    // reads: a loaded machine may wake us past the grace with one waiting.)
    const later = (): void => void setImmediate(() => this.settleIfIdle());
    if (!fresh) later();
    else setTimeout(later, FIRST_REQUEST_GRACE_MS).unref();
  }

  /**
   * Graceful hand-off: once no request is active, stop reading at a record
   * boundary and emit 'handoff', so that the socket can go to another
   * process and the web server never sees it close. Requests whose input
   * is still coming are read to their end first (a multiplexing web server
   * may send several at once); reading stops at the first boundary where no
   * request waits for input, and nothing after it is parsed here.
   */
  handOff(): void {
    if (!this.open) return;
    this.phase = 'handing-off';
    this.haltIfInputDone();
    this.settleIfIdle();
  }

  destroy(error?: Error): void {
    if (this.phase !== 'handed-off') this.phase = 'destroyed';
    this.socket.destroy(error);
  }

  /** Bytes another process read from this connection already (see 'handoff'): parsed before any the socket brings. */
  feed(bytes: Buffer): void {
    this.onData(bytes);
  }

  /**
   * Handing off, and no request of this connection waits for input: stop
   * parsing at the next record boundary, and reading once there. Not before:
   * a record still coming in parts (of a request that ended already, say
   * one the web server aborted) must be read to its end, or it never ends.
   */
  protected haltIfInputDone(): void {
    if (this.phase !== 'handing-off' || this.waitingForRequestInput()) return;
    if (!this.parser.halted) this.parser.halt();
    if (this.parser.halted) this.socket.pause();
  }

  /**
   * Closing or handing off, and idle: end the transport, or hand it off.
   * Closing waits while a record is half in, which may be a request the web
   * server sent before it could see our FIN (it is served, and the
   * connection ends after it); handing off waits for the parser to halt.
   */
  protected settleIfIdle(): void {
    if (this.activeRequests > 0) return;
    if (this.phase === 'closing' && this.parser.pendingBytes === 0) this.end();
    // Not from inside a read (a request answered at once, or aborted, in a record callback): the
    // parser keeps what follows in that read only once push() returns, and onData settles then.
    // Issue 23: a hand-off emitted there went without those bytes, and a request in them was lost.
    else if (this.phase === 'handing-off' && this.parser.halted && !this.inRead) this.whenFlushed(() => this.emitHandoff());
  }

  /** Runs `then` once every byte we wrote has left for the kernel: a handle closed earlier would drop them. */
  private whenFlushed(then: () => void): void {
    this.writer.flush();
    if (this.socket.destroyed) return;
    if (this.socket.writableLength === 0) then();
    // Writes finish in order: an empty one's callback comes once every write before it is done.
    // Not 'drain': it comes only after a write() that returned false, and a hand-off that waited
    // for it behind a small write the kernel took late waited out graceperiod (issue 23).
    else this.socket.write(NOTHING, () => this.whenFlushed(then));
  }

  private emitHandoff(): void {
    if (this.phase !== 'handing-off' || this.socket.destroyed) return;
    this.phase = 'handed-off';
    // What the stream read ahead into its own buffer (a socket not reading
    // into the shared buffer) is part of the rest: read() hands it to our
    // 'data' listener, and the halted parser keeps it after what it has.
    while (this.socket.read() !== null);
    this.emit('handoff', this.parser.takeRest());
  }

  /**
   * Ends the transport after whatever is queued. From here on no request
   * starts: one the web server sends before our FIN reaches it could never be
   * answered (a write after end), and the web server, which sees our FIN
   * before any answer, retries it on a new connection if it may. We keep
   * reading until the web server closes too, so that the kernel does not
   * reset the connection over unread bytes and lose the last answer.
   */
  protected end(): void {
    if (!this.open) return;
    this.phase = 'shut';
    this.writer.flush();
    this.socket.end();
    // A peer that never closes its side: 'close' must come for a stop to finish.
    if (!this.socket.readableEnded) setTimeout(() => this.socket.destroy(), SHUT_LINGER_MS).unref();
  }

  private readonly onData = (chunk: Buffer): void => {
    this.lastInput = performance.now();
    this.writer.hold();
    // emitHandoff() reads what the stream buffered through here: the outer read is not over then.
    const outer = this.inRead;
    this.inRead = true;
    try {
      this.parser.push(chunk);
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      this.fail(err);
    } finally {
      this.inRead = outer;
      this.writer.release();
    }
    // A record that was half in when we decided to close (or hand off) is complete now.
    if (this.phase === 'handing-off') this.haltIfInputDone();
    if (this.phase === 'closing' || this.phase === 'handing-off') this.settleIfIdle();
  };

  protected fail(err: ProtocolError): void {
    if (this.socket.destroyed) return;
    this.emit('protocolError', err);
    this.destroy();
  }
}
