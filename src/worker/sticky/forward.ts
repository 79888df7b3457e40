// One routed request, relayed to the worker that owns its client: body there with backpressure, response back.

import net from 'node:net';
import type { GatewayRequest, RequestSink } from '../../adapter/types.js';
import { fcgiFraming, scgiFraming, type Framing } from './framing.js';
import type { ConnectionPool } from './pool.js';

/** What the router hears of a forwarded request. */
export interface ForwardHooks {
  /**
   * The owner could not be reached, or left before answering, and the body
   * sent so far is still at hand: serve the request here. `replay` then gives
   * the new sink what the request had sent.
   */
  fallback(replay: () => void): void;
  /** The request is over, one way or another. */
  done(): void;
}

/** Body bytes kept for a fallback until the owner answers; a longer body cannot fall back once sent. */
const REPLAY_LIMIT = 1024 * 1024;

const BAD_GATEWAY = 'Status: 502 Bad Gateway\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe worker serving this session left before it answered.\n';

type State = 'connecting' | 'relaying' | 'answering' | 'over';

/**
 * A FastCGI (or SCGI) client for one request, on a connection to the
 * owner's private socket: a kept-alive one from the pool (FastCGI), or one
 * of its own (SCGI). The owner sees the request as if the web server had
 * sent it (it counts and times it); here it is only relayed.
 */
class Forward implements RequestSink {
  private state: State = 'connecting';
  private readonly socket: net.Socket;
  private readonly framing: Framing;
  /** Body chunks waiting for the connection. */
  private pending: Buffer[] = [];
  /** Every body chunk so far, for a fallback; null once the owner answered or the body outgrew REPLAY_LIMIT. */
  private kept: Buffer[] | null = [];
  private keptBytes = 0;
  private stdinDone = false;
  private pausedInput = false;

  /** Where the connection goes back once the response is complete (FastCGI); undefined: it is closed. */
  private readonly pool: ConnectionPool | undefined;

  constructor(private readonly request: GatewayRequest, private readonly path: string, pool: ConnectionPool | undefined, private readonly hooks: ForwardHooks) {
    const reply = {
      stdout: (chunk: Buffer) => this.stdout(chunk),
      stderr: (chunk: Buffer) => void request.writeStderr(chunk),
      end: (appStatus: number) => this.finish(() => request.end(appStatus), true),
    };
    this.pool = pool;
    this.framing = pool === undefined ? scgiFraming(reply) : fcgiFraming(reply);
    request.attach(this);
    const taken = pool?.take(path) ?? { socket: net.connect(path), fresh: true };
    this.socket = taken.socket;
    this.socket.on('data', this.onData);
    this.socket.on('drain', this.onDrain);
    this.socket.on('close', this.onClose);
    this.socket.on('error', ignore); // 'close' follows and decides
    if (taken.fresh) this.socket.once('connect', this.onConnect);
    else this.onConnect();
  }

  private readonly onData = (chunk: Buffer): void => this.framing.push(chunk);
  private readonly onDrain = (): void => this.resumeInput();

  private readonly onConnect = (): void => {
    if (this.state !== 'connecting') return;
    this.state = 'relaying';
    this.send(this.framing.begin(this.request.params));
    for (const chunk of this.pending) this.send(this.framing.stdin(chunk));
    this.pending = [];
    if (this.stdinDone) this.send(this.framing.stdinEnd());
  };

  private send(buffers: Buffer[]): void {
    let ok = true;
    for (const b of buffers) ok = this.socket.write(b);
    // The owner reads slower than the web server sends: the web server waits.
    if (!ok && !this.pausedInput) {
      this.pausedInput = true;
      this.request.pause();
    }
  }

  private resumeInput(): void {
    if (!this.pausedInput) return;
    this.pausedInput = false;
    this.request.resume();
  }

  stdin(chunk: Buffer | null): void {
    if (this.state === 'over') return;
    if (chunk === null) {
      this.stdinDone = true;
      if (this.state !== 'connecting') this.send(this.framing.stdinEnd());
      return;
    }
    if (this.kept !== null) {
      this.keptBytes += chunk.length;
      if (this.keptBytes > REPLAY_LIMIT) this.kept = null;
      else this.kept.push(chunk);
    }
    if (this.state === 'connecting') this.pending.push(chunk);
    else this.send(this.framing.stdin(chunk));
  }

  /** The client left (or the web server gave the request up): the owner is told, as the web server would tell it. */
  abort(): void {
    if (this.state === 'over') return;
    const connected = this.state !== 'connecting';
    this.state = 'over';
    const tell = connected ? this.framing.abort() : [];
    if (tell.length > 0) {
      for (const b of tell) this.socket.write(b);
      this.socket.end();
      // An owner that does not close after END_REQUEST is not waited for.
      setTimeout(() => this.socket.destroy(), 5000).unref();
    } else {
      this.socket.destroy();
    }
    this.hooks.done();
  }

  /** The web server drained what we relayed: read on from the owner. */
  drain(): void {
    this.socket.resume();
  }

  private stdout(chunk: Buffer): void {
    if (this.state === 'over') return;
    this.state = 'answering';
    this.kept = null;
    if (!this.request.write(chunk)) this.socket.pause();
  }

  /** `reusable`: the owner ended the request (END_REQUEST), and the connection may carry the next. */
  private finish(end: () => void, reusable = false): void {
    if (this.state === 'over') return;
    this.state = 'over';
    this.resumeInput();
    end();
    const socket = this.socket;
    socket.off('data', this.onData);
    socket.off('drain', this.onDrain);
    socket.off('close', this.onClose);
    socket.off('error', ignore);
    socket.off('connect', this.onConnect);
    if (reusable && this.pool !== undefined && !socket.destroyed) this.pool.give(this.path, socket);
    else socket.destroy();
    this.hooks.done();
  }

  private readonly onClose = (): void => {
    if (this.state === 'over') return;
    if (this.framing.closed()) {
      this.finish(() => {});
      return;
    }
    // Nothing came back: the owner is gone (or going). What it was sent is at hand: serve it here.
    if (this.state !== 'answering' && this.kept !== null && !this.request.ended) {
      const kept = this.kept;
      const stdinDone = this.stdinDone;
      this.state = 'over';
      this.resumeInput();
      this.hooks.fallback(() => {
        for (const chunk of kept) this.request.sink?.stdin(chunk);
        if (stdinDone) this.request.sink?.stdin(null);
      });
      return;
    }
    this.finish(() => {
      if (this.request.bytesOut === 0) {
        this.request.write(BAD_GATEWAY);
        this.request.end(0);
      } else {
        this.request.fail();
      }
    });
  };
}

const ignore = (): void => {};

/** Hands `request` to the worker listening at `path`: over a pooled FastCGI connection, or a new SCGI one. */
export function forward(request: GatewayRequest, path: string, pool: ConnectionPool | undefined, hooks: ForwardHooks): void {
  new Forward(request, path, pool, hooks);
}
