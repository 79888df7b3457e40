// The application side of one FastCGI transport connection (spec 3, 4, 5, 6).

import type { Duplex } from 'node:stream';
import {
  ProtocolError,
  decodeParamsInto,
  newParams,
  encodeEndRequest,
} from './codec.js';
import {
  FCGI_ABORT_REQUEST,
  FCGI_BEGIN_REQUEST,
  FCGI_DATA,
  FCGI_KEEP_CONN,
  FCGI_OVERLOADED,
  FCGI_PARAMS,
  FCGI_STDERR,
  FCGI_STDIN,
  FCGI_STDOUT,
  FCGI_UNKNOWN_ROLE,
  ROLE_NAMES,
} from './constants.js';
import { managementReply } from './management.js';
import { FcgiRequest, type RequestOwner } from './request.js';
import { RequestTable } from './request-table.js';
import { FcgiTransport } from './transport.js';

export type { Phase } from './transport.js';

export interface ConnectionOptions {
  /** FCGI_MAX_CONNS as answered to FCGI_GET_VALUES. */
  maxConns: number;
  /** Requests at once on this connection (FCGI_MAX_REQS); more get FCGI_OVERLOADED. */
  maxReqs: number;
  /** Bytes of PARAMS one request may send; more gets that request a 431. */
  maxParamsBytes: number;
  /** Params one request may send; more gets that request a 431. */
  maxParams: number;
}

export const DEFAULT_CONNECTION_OPTIONS: ConnectionOptions = {
  maxConns: 1024,
  maxReqs: 1024,
  maxParamsBytes: 1024 * 1024,
  maxParams: 1000,
};

/** A request refused over a limit while an answer is still possible. */
function limitResponse(status: string, text: string): string {
  return `Status: ${status}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${text}\n`;
}

/**
 * Parses records from `socket`, keeps each request's state, and writes the
 * response records. Emits:
 * - 'request' (FcgiRequest) once a request's params are complete;
 * - 'protocolError' (ProtocolError) before it destroys the socket over bad input;
 * - 'limit' (message) when a request is refused over a limit (the connection carries on);
 * - 'abort' (FcgiRequest, reason) when the web server gives a request up: FCGI_ABORT_REQUEST,
 *   or the connection closed by it (what it does when its client leaves);
 * - 'handoff' (rest: Buffer) once, after handOff(), when no request is active and reading has
 *   stopped at a record boundary: the socket may go to another process with `rest`, the bytes
 *   read past that boundary; destroy() then closes only this process's copy;
 * - 'close' when the transport is gone and every request has been aborted or ended.
 */
export class FcgiConnection extends FcgiTransport implements RequestOwner {
  private readonly options: ConnectionOptions;
  private readonly requests = new RequestTable<FcgiRequest>();
  private pausedRequests = 0;

  constructor(socket: Duplex, options: Partial<ConnectionOptions> = {}) {
    super(socket);
    this.options = { ...DEFAULT_CONNECTION_OPTIONS, ...options };
    socket.on('end', this.onEnd);
    socket.on('drain', this.onDrain);
    socket.on('close', this.onClose);
  }

  /** Requests begun and not yet ended. */
  get activeRequests(): number {
    return this.requests.size;
  }

  protected onRecord(type: number, requestId: number, content: Buffer): void {
    if (this.socket.destroyed || !this.open) return;
    if (requestId === 0) {
      this.writer.write(managementReply(type, content, this.options));
      return;
    }
    switch (type) {
      case FCGI_BEGIN_REQUEST:
        this.onBeginRequest(requestId, content);
        return;
      case FCGI_PARAMS:
        this.onParams(requestId, content);
        return;
      case FCGI_STDIN:
        this.onStdin(requestId, content);
        this.haltIfInputDone();
        return;
      case FCGI_DATA:
        this.onFilterData(requestId, content);
        this.haltIfInputDone();
        return;
      case FCGI_ABORT_REQUEST:
        this.onAbortRequest(requestId);
        return;
      default:
        throw new ProtocolError(`unexpected record type ${type} for request ${requestId}`);
    }
  }

  private onBeginRequest(id: number, content: Buffer): void {
    if (content.length < 8) {
      throw new ProtocolError(`BEGIN_REQUEST body of ${content.length} bytes, 8 expected`);
    }
    if (this.requests.has(id)) {
      throw new ProtocolError(`BEGIN_REQUEST for request ${id}, which is still active`);
    }
    const keepConn = (content[2]! & FCGI_KEEP_CONN) !== 0;
    const role = ROLE_NAMES[content.readUInt16BE(0)];
    // A request that arrives while we close is still served: the web server
    // sent it before it could see our FIN. We close once the connection is idle.
    if (role === undefined || this.requests.size >= this.options.maxReqs) {
      // Spec 5.1: refuse with END_REQUEST, not by closing the connection.
      this.writer.write(encodeEndRequest(id, 0, role === undefined ? FCGI_UNKNOWN_ROLE : FCGI_OVERLOADED));
      if (!keepConn) this.end();
      return;
    }
    if (this.phase === 'fresh') this.phase = 'serving';
    this.requests.add(new FcgiRequest(this, id, role, keepConn));
  }

  private onParams(id: number, content: Buffer): void {
    const req = this.requests.get(id);
    if (req === undefined) return; // spec 3.3: records for inactive ids are ignored
    if (req.state !== 'params') {
      throw new ProtocolError(`PARAMS for request ${id} after its params stream ended`);
    }
    if (content.length > 0) {
      req.paramBytes += content.length;
      if (req.paramBytes > this.options.maxParamsBytes) {
        this.refuse(req, '431 Request Header Fields Too Large', `params of request ${id} exceed ${this.options.maxParamsBytes} bytes (maxparamsbytes=)`);
        return;
      }
      const kept = this.borrowed ? Buffer.from(content) : content;
      if (req.paramChunk === null) req.paramChunk = kept;
      else (req.paramChunks ??= [req.paramChunk]).push(kept);
      return;
    }
    // A pair may straddle two PARAMS records: decode the stream as a whole.
    const all = req.paramChunks !== null ? Buffer.concat(req.paramChunks) : (req.paramChunk ?? content);
    req.paramChunk = req.paramChunks = null;
    const params = newParams();
    // Pairs, not names: a name sent twice counts twice (it costs as much).
    const count = decodeParamsInto(all, params);
    req.params = params;
    if (count > this.options.maxParams) {
      this.refuse(req, '431 Request Header Fields Too Large', `request ${id} sent ${count} params, more than ${this.options.maxParams} (maxparams=)`);
      return;
    }
    req.state = 'input';
    req.startedAt = performance.now();
    this.emit('request', req);
  }

  /**
   * Answers a request over a limit and forgets it: the rest of its records
   * are then those of an inactive id, which the spec says to ignore.
   */
  private refuse(req: FcgiRequest, status: string, why: string): void {
    this.emit('limit', why);
    req.state = 'output';
    this.writeStream(req, limitResponse(status, why), 'latin1', false);
    this.endRequest(req, 0);
  }

  /** Time limits (readtimeout=): what this connection still owes us. */
  waitingForInput(): boolean {
    return this.parser.pendingBytes > 0 || this.waitingForRequestInput();
  }

  protected waitingForRequestInput(): boolean {
    for (const req of this.requests.list()) if (req.state === 'params' || req.state === 'input') return true;
    return false;
  }

  /**
   * readtimeout=: the web server stopped sending in the middle of a
   * request. Those requests get a 408 where nothing was answered yet, and
   * the connection is closed.
   */
  timeOutInput(): void {
    for (const req of this.requests.list()) {
      if (req.state === 'params') {
        this.endRequest(req, 0);
      } else if (req.state === 'input') {
        const sink = req.sink;
        if (req.bytesOut === 0) {
          this.writeStream(req, limitResponse('408 Request Timeout', 'the request was not sent in time (readtimeout=)'), 'latin1', false);
          this.endRequest(req, 0);
        } else {
          this.failRequest(req);
        }
        sink?.abort(new Error('fcgi: request input timed out'));
      }
    }
    this.end();
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  private inputRequest(id: number, what: string): FcgiRequest | undefined {
    const req = this.requests.get(id);
    if (req === undefined || req.state === 'ended') return undefined;
    if (req.state === 'params') {
      throw new ProtocolError(`${what} for request ${id} before its params stream ended`);
    }
    return req;
  }

  private onStdin(id: number, content: Buffer): void {
    const req = this.inputRequest(id, 'STDIN');
    if (req === undefined || req.stdinDone) return;
    if (content.length === 0) {
      req.stdinDone = true;
      if (req.role !== 'FILTER') req.state = 'output';
      req.sink?.stdin(null);
    } else {
      req.sink?.stdin(this.borrowed ? Buffer.from(content) : content);
    }
  }

  private onFilterData(id: number, content: Buffer): void {
    const req = this.inputRequest(id, 'DATA');
    if (req === undefined || req.state !== 'input') return;
    if (!req.stdinDone) throw new ProtocolError(`DATA for request ${id} before its STDIN ended`);
    if (content.length === 0) req.state = 'output';
    req.sink?.data?.(content.length === 0 ? null : this.borrowed ? Buffer.from(content) : content);
  }

  private onAbortRequest(id: number): void {
    const req = this.requests.get(id);
    if (req !== undefined) this.abortRequest(req, 'fcgi: request aborted by web server', true);
  }

  /** Writes STDOUT or STDERR records; false asks the caller to wait for drain(). */
  writeStream(req: FcgiRequest, chunk: Buffer | string, encoding: BufferEncoding | undefined, stderr: boolean): boolean {
    if (req.state === 'ended' || this.socket.destroyed) return true;
    const bytes = this.writer.stream(stderr ? FCGI_STDERR : FCGI_STDOUT, req.id, chunk, encoding);
    if (!stderr) req.bytesOut += bytes;
    const ok = this.writer.ok;
    if (!ok) req.needDrain = true;
    return ok;
  }

  /** Ends a request: empty STDOUT and END_REQUEST, once; then closes the connection if asked. */
  endRequest(req: FcgiRequest, appStatus: number): void {
    if (req.state === 'ended') return;
    req.resume();
    req.state = 'ended';
    req.sink = null;
    this.requests.delete(req.id);
    if (this.socket.destroyed) return;
    this.writer.endRequest(req.id, appStatus);
    // Without FCGI_KEEP_CONN the web server expects us to close (spec 3.5);
    // requests multiplexed beside this one still finish first.
    if (!req.keepConn && (this.phase === 'serving' || this.phase === 'handing-off')) this.phase = 'closing';
    this.haltIfInputDone();
    this.settleIfIdle();
  }

  failRequest(req: FcgiRequest): void {
    if (req.state === 'ended') return;
    if (this.requests.size === 1) {
      req.resume();
      req.state = 'ended';
      req.sink = null;
      this.requests.delete(req.id);
      this.destroy();
    } else {
      this.endRequest(req, 1);
    }
  }

  /** Counts requests that asked for input to stop; reading stops while any has. */
  pauseInput(delta: 1 | -1): void {
    this.pausedRequests += delta;
    if (delta === 1 && this.pausedRequests === 1) this.socket.pause();
    // A connection halted for its hand-off stays paused: what it reads now belongs to the next owner.
    else if (delta === -1 && this.pausedRequests === 0 && !this.parser.halted) this.socket.resume();
  }

  private readonly onDrain = (): void => {
    for (const req of this.requests.list()) {
      if (req.needDrain) {
        req.needDrain = false;
        req.sink?.drain();
      }
    }
  };

  private readonly onEnd = (): void => {
    if (this.parser.pendingBytes > 0) {
      this.fail(new ProtocolError(`connection ended inside a record (${this.parser.pendingBytes} bytes pending)`));
      return;
    }
    // Web servers close the connection when their client leaves (nginx,
    // Apache, lighttpd: none half-closes to wait for a reply), and Node's own
    // server takes a FIN from its client the same way: every request on the
    // connection is over, also those whose input was complete.
    for (const req of this.requests.list()) this.abortRequest(req, 'fcgi: the web server closed the connection', true);
    this.end();
  };

  private readonly onClose = (): void => {
    for (const req of this.requests.list()) {
      this.abortRequest(req, 'fcgi: connection to the web server lost', this.phase !== 'destroyed');
    }
    this.emit('close');
  };

  private abortRequest(req: FcgiRequest, message: string, byWebServer: boolean): void {
    const sink = req.sink;
    // END_REQUEST first, so whatever the application still writes is dropped.
    this.endRequest(req, 0);
    const reason = new Error(message);
    if (byWebServer) this.emit('abort', req, reason);
    sink?.abort(reason);
  }
}

