// SCGI (python.ca/scgi/protocol.txt): one request per connection, a netstring of
// NUL-separated headers, the body, then the CGI response until the connection closes.

import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import type { RequestSink } from '../fcgi/request.js';
import { addParam } from '../params.js';

export class ScgiProtocolError extends Error {
  override name = 'ScgiProtocolError';
  constructor(message: string) {
    super(`scgi: ${message}`);
  }
}

/** How long a connection that has not sent its request yet may take, once we close. */
const FIRST_REQUEST_GRACE_MS = 2000;
const MAX_LENGTH_DIGITS = 10;

/** The one request of an SCGI connection, with the surface the adapters use. */
export class ScgiRequest {
  readonly id = 1;
  readonly role = 'RESPONDER' as const;
  readonly params: Record<string, string>;
  /** The size of the header block the params came in. */
  readonly paramBytes: number;
  readonly startedAt = performance.now();
  sink: RequestSink | null = null;
  ended = false;
  bytesOut = 0;
  private readonly socket: Duplex;

  constructor(socket: Duplex, params: Record<string, string>, paramBytes: number) {
    this.socket = socket;
    this.params = params;
    this.paramBytes = paramBytes;
  }

  attach(sink: RequestSink): void {
    this.sink = sink;
  }

  write(chunk: Buffer | string, encoding?: BufferEncoding): boolean {
    if (this.ended || this.socket.destroyed) return true;
    this.bytesOut += typeof chunk === 'string' ? Buffer.byteLength(chunk, encoding) : chunk.length;
    return encoding === undefined ? this.socket.write(chunk) : this.socket.write(chunk, encoding);
  }

  /** SCGI has no error stream: the text goes to runfcgi's own standard error. */
  writeStderr(chunk: Buffer | string): boolean {
    process.stderr.write(chunk);
    return true;
  }

  /** The response is complete when the connection closes (SCGI has no other end marker). */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.sink = null;
    this.socket.resume();
    this.socket.end();
  }

  fail(): void {
    if (this.ended) return;
    this.ended = true;
    this.sink = null;
    this.socket.destroy();
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }
}

/**
 * Parses the request of one SCGI connection. Emits 'request' (ScgiRequest)
 * once the headers are in, 'protocolError' before it destroys the socket
 * over bad input, 'abort' (ScgiRequest, reason) when the web server closes
 * the connection before the response is complete (its client left), and 'close'.
 */
export class ScgiConnection extends EventEmitter {
  readonly socket: Duplex;
  private readonly maxHeaderBytes: number;
  private state: 'length' | 'headers' | 'body' | 'done' = 'length';
  private lengthText = '';
  private header: Buffer | null = null;
  private filled = 0;
  private bodyLeft = 0;
  private request: ScgiRequest | null = null;
  /** We closed the transport: its loss is not the web server's doing. */
  private destroyedHere = false;
  /** close() ended this silent connection: nothing it sends later is served. */
  private shut = false;

  constructor(socket: Duplex, options: { maxParamsBytes?: number } = {}) {
    super();
    this.socket = socket;
    this.maxHeaderBytes = options.maxParamsBytes ?? 1024 * 1024;
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onClose);
    // The response waits for this when the socket's buffer is full (backpressure).
    socket.on('drain', () => this.request?.sink?.drain());
    socket.on('error', () => {});
  }

  get activeRequests(): number {
    return this.request !== null && !this.request.ended ? 1 : 0;
  }

  /** Graceful close: an answered or answering connection closes by itself; a silent one gets a moment. */
  close(): void {
    if (this.state !== 'length' || this.lengthText !== '') return;
    // Timers run before reads: after the grace, one turn of the event loop
    // reads a request that has arrived meanwhile (a loaded machine wakes late).
    const later = (): void =>
      void setImmediate(() => {
        if (this.state !== 'length' || this.lengthText !== '') return;
        this.shut = true;
        this.socket.end();
      });
    setTimeout(later, FIRST_REQUEST_GRACE_MS).unref();
  }

  destroy(): void {
    this.destroyedHere = true;
    this.socket.destroy();
  }

  /** performance.now() of the last bytes received (idletimeout=, readtimeout=). */
  lastInput = performance.now();

  /** The request is not complete yet. */
  waitingForInput(): boolean {
    return this.state === 'headers' || this.state === 'body' || (this.state === 'length' && this.lengthText !== '');
  }

  /** readtimeout=: a 408 if the request began and nothing was answered; then the connection goes. */
  timeOutInput(): void {
    const request = this.request;
    if (request !== null && !request.ended && request.bytesOut === 0) {
      const sink = request.sink;
      request.write('Status: 408 Request Timeout\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nthe request was not sent in time (readtimeout=)\n');
      request.end();
      sink?.abort(new Error('scgi: request input timed out'));
      return;
    }
    this.destroy();
  }

  private readonly onData = (chunk: Buffer): void => {
    // We ended a silent connection: a request arriving now could not be answered.
    if (this.shut) return;
    this.lastInput = performance.now();
    try {
      this.consume(chunk);
    } catch (error) {
      if (!(error instanceof ScgiProtocolError)) throw error;
      this.emit('protocolError', error);
      this.destroy();
    }
  };

  private consume(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length) {
      switch (this.state) {
        case 'length':
          offset = this.readLength(chunk, offset);
          break;
        case 'headers':
          offset = this.readHeaders(chunk, offset);
          break;
        case 'body':
          offset = this.readBody(chunk, offset);
          break;
        case 'done':
          return; // anything after the body is not ours to read
      }
    }
  }

  private readLength(chunk: Buffer, offset: number): number {
    const colon = chunk.indexOf(0x3a, offset);
    const digits = chunk.toString('latin1', offset, colon < 0 ? chunk.length : colon);
    this.lengthText += digits;
    if (!/^\d*$/.test(this.lengthText) || this.lengthText.length > MAX_LENGTH_DIGITS) {
      throw new ScgiProtocolError(`bad netstring length '${this.lengthText.slice(0, 20)}'`);
    }
    if (colon < 0) return chunk.length;
    const length = Number(this.lengthText);
    if (this.lengthText === '' || length > this.maxHeaderBytes) {
      throw new ScgiProtocolError(this.lengthText === '' ? 'empty netstring length' : `headers of ${length} bytes exceed the limit of ${this.maxHeaderBytes}`);
    }
    // The headers, then the netstring's closing comma.
    this.header = Buffer.allocUnsafe(length + 1);
    this.filled = 0;
    this.state = 'headers';
    return colon + 1;
  }

  private readHeaders(chunk: Buffer, offset: number): number {
    const header = this.header!;
    const n = Math.min(header.length - this.filled, chunk.length - offset);
    chunk.copy(header, this.filled, offset, offset + n);
    this.filled += n;
    if (this.filled < header.length) return offset + n;
    if (header[header.length - 1] !== 0x2c) throw new ScgiProtocolError('netstring without its closing comma');
    this.begin(parseHeaders(header.subarray(0, header.length - 1)), header.length);
    return offset + n;
  }

  private begin(params: Record<string, string>, paramBytes: number): void {
    this.header = null;
    this.bodyLeft = Number(params.CONTENT_LENGTH);
    const request = new ScgiRequest(this.socket, params, paramBytes);
    this.request = request;
    this.state = this.bodyLeft > 0 ? 'body' : 'done';
    this.emit('request', request);
    if (this.bodyLeft === 0) request.sink?.stdin(null);
  }

  private readBody(chunk: Buffer, offset: number): number {
    const n = Math.min(this.bodyLeft, chunk.length - offset);
    this.bodyLeft -= n;
    const sink = this.request?.sink;
    sink?.stdin(chunk.subarray(offset, offset + n));
    if (this.bodyLeft === 0) {
      this.state = 'done';
      this.request?.sink?.stdin(null);
    }
    return offset + n;
  }

  private readonly onEnd = (): void => {
    if (this.state === 'done' || (this.state === 'length' && this.lengthText === '')) {
      // Web servers close the connection when their client leaves (none
      // half-closes to wait for the reply), and Node's own server takes a
      // FIN from its client the same way: the request is over.
      if (this.request === null) this.socket.end();
      else this.abort('scgi: the web server closed the connection', true);
      return;
    }
    if (this.state === 'body') this.abort('scgi: connection ended before the request body was complete', true);
    else {
      this.emit('protocolError', new ScgiProtocolError('connection ended inside the headers'));
      this.destroy();
    }
  };

  private readonly onClose = (): void => {
    this.abort('scgi: connection to the web server lost', !this.destroyedHere);
    this.emit('close');
  };

  private abort(message: string, byWebServer: boolean): void {
    const request = this.request;
    if (request === null || request.ended) return;
    const sink = request.sink;
    request.fail();
    const reason = new Error(message);
    if (byWebServer) this.emit('abort', request, reason);
    sink?.abort(reason);
  }
}

/** NUL-separated names and values; CONTENT_LENGTH first, SCGI=1 present (the spec's rules). */
export function parseHeaders(buf: Buffer): Record<string, string> {
  const parts = buf.toString('latin1').split('\0');
  // The block ends with a NUL, so the split leaves one empty string behind.
  if (parts.pop() !== '' || parts.length % 2 !== 0) throw new ScgiProtocolError('headers are not NUL-terminated name/value pairs');
  const params: Record<string, string> = Object.create(null) as Record<string, string>;
  for (let i = 0; i < parts.length; i += 2) addParam(params, parts[i]!, parts[i + 1]!);
  if (parts[0] !== 'CONTENT_LENGTH' || !/^\d+$/.test(params.CONTENT_LENGTH ?? '')) {
    throw new ScgiProtocolError('the first header must be CONTENT_LENGTH with a decimal value');
  }
  if (params.SCGI !== '1') throw new ScgiProtocolError('the SCGI header must be present with the value 1');
  return params;
}
