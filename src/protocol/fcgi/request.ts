// One FastCGI request as the application side sees it: params in, streams in, records out.

import type { Role } from './constants.js';

/** What a request needs from the connection that carries it (the connection implements it). */
export interface RequestOwner {
  /** Writes STDOUT (or STDERR) records; false asks the caller to wait for drain(). */
  writeStream(req: FcgiRequest, chunk: Buffer | string, encoding: BufferEncoding | undefined, stderr: boolean): boolean;
  /** Empty STDOUT and END_REQUEST, once. */
  endRequest(req: FcgiRequest, appStatus: number): void;
  /** Makes the web server see an incomplete reply. */
  failRequest(req: FcgiRequest): void;
  /** Counts requests that asked for input to stop: +1 on pause, -1 on resume. */
  pauseInput(delta: 1 | -1): void;
}

/**
 * What the application side gives a request to receive its input streams.
 * The calls come in protocol order; `stdin(null)` (and `data(null)` for a
 * FILTER) marks the end of a stream. After `abort` nothing more comes.
 */
export interface RequestSink {
  stdin(chunk: Buffer | null): void;
  /** FCGI_DATA, the file a FILTER filters; sent only after stdin has ended. */
  data?(chunk: Buffer | null): void;
  /** The web server aborted the request, or the connection was lost. */
  abort(reason: Error): void;
  /** The connection drained after write() returned false. */
  drain(): void;
}

export type RequestState = 'params' | 'input' | 'output' | 'ended';

export class FcgiRequest {
  readonly id: number;
  readonly role: Role;
  /** FCGI_KEEP_CONN: the web server keeps the connection after this request. */
  readonly keepConn: boolean;
  /** The CGI/1.1 environment the web server sent (names and values as latin1). */
  params: Record<string, string> = {};
  /**
   * 'params' until the params stream ends, 'input' while stdin (and data)
   * still arrive, 'output' once the input is complete, 'ended' once
   * FCGI_END_REQUEST was sent.
   */
  state: RequestState = 'params';
  sink: RequestSink | null = null;
  /** The application asked for input to stop flowing (backpressure). */
  paused = false;
  stdinDone = false;
  /** A write returned false and the sink waits for drain(). */
  needDrain = false;
  /** performance.now() when the params were complete: the request's start. */
  startedAt = 0;
  /** Bytes of FCGI_STDOUT content written: 0 means a response may still begin. */
  bytesOut = 0;
  /** PARAMS content gathered until the empty PARAMS record: usually one record, a list when more. */
  paramChunk: Buffer | null = null;
  paramChunks: Buffer[] | null = null;
  paramBytes = 0;
  private readonly connection: RequestOwner;

  constructor(connection: RequestOwner, id: number, role: Role, keepConn: boolean) {
    this.connection = connection;
    this.id = id;
    this.role = role;
    this.keepConn = keepConn;
  }

  /** Receives this request's input streams; call it synchronously in the 'request' handler. */
  attach(sink: RequestSink): void {
    this.sink = sink;
  }

  /** Response bytes on FCGI_STDOUT. Returns false when the caller should wait for drain(). */
  write(chunk: Buffer | string, encoding?: BufferEncoding): boolean {
    return this.connection.writeStream(this, chunk, encoding, false);
  }

  /** Error text on FCGI_STDERR: the web server logs it. */
  writeStderr(chunk: Buffer | string, encoding?: BufferEncoding): boolean {
    return this.connection.writeStream(this, chunk, encoding, true);
  }

  /** Ends the response: empty FCGI_STDOUT, then FCGI_END_REQUEST with `appStatus`. Idempotent. */
  end(appStatus = 0): void {
    this.connection.endRequest(this, appStatus);
  }

  /**
   * The application failed mid-response: make the web server see an
   * incomplete reply. Alone on its connection, the connection is closed
   * before END_REQUEST (what a web server reads as an upstream error);
   * beside multiplexed requests, END_REQUEST carries appStatus 1 instead.
   */
  fail(): void {
    this.connection.failRequest(this);
  }

  /** Stops reading the connection until resume(): the one way to push back on a web server. */
  pause(): void {
    if (!this.paused && this.state !== 'ended') {
      this.paused = true;
      this.connection.pauseInput(1);
    }
  }

  resume(): void {
    if (this.paused) {
      this.paused = false;
      this.connection.pauseInput(-1);
    }
  }

  get ended(): boolean {
    return this.state === 'ended';
  }
}
