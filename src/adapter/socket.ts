// The stand-in for net.Socket under one request's IncomingMessage/ServerResponse.

import { EventEmitter } from 'node:events';
import { OutgoingMessage, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { withoutDefaultStatus } from '../protocol/cgi.js';
import type { GatewayRequest, RequestSink } from './types.js';

/**
 * OutgoingMessage keeps "needs drain" behind a symbol that only Node's own
 * HTTP server resets. We stand in for that server, so we look the symbol up
 * once; without it `res.writableNeedDrain` merely stays true after a drain.
 */
const kNeedDrain = Object.getOwnPropertySymbols(new OutgoingMessage()).find(
  (s) => s.description === 'kNeedDrain',
);

/**
 * Hop-by-hop headers: the web server speaks HTTP to the browser, not us
 * (RFC 3875 6.3). Node's own `Connection: close` is one of them.
 */
const HOP_BY_HOP = /\r\n(?:connection|keep-alive|transfer-encoding|upgrade):[^\r]*/gi;

/**
 * "HTTP/1.1 404 Not Found\r\n...\r\n\r\nbody" -> "Status: 404 Not Found\r\n...\r\n\r\nbody"
 * (RFC 3875 6.3.3), without hop-by-hop headers, and without the Status line
 * of a plain 200 OK; the body is left as it is.
 */
export function cgiMessage(text: string): string {
  let end = text.indexOf('\r\n\r\n');
  if (end < 0) end = text.length;
  const head = 'Status:' + text.slice(text.indexOf(' '), end).replace(HOP_BY_HOP, '');
  return withoutDefaultStatus(head) + text.slice(end);
}

const WRITABLE_STATE = { corked: 0 };

/**
 * Node's ServerResponse writes an HTTP/1.1 message to its socket; this socket
 * turns that message into a CGI response on FCGI_STDOUT: the status line
 * becomes `Status:`, hop-by-hop headers go, the body passes through. Reading
 * the request body resumes the FastCGI connection (backpressure), and an
 * abort by the web server destroys it as a lost client connection would.
 */
export class FcgiSocket extends EventEmitter implements RequestSink {
  readonly fcgi: GatewayRequest;
  req: IncomingMessage | null = null;
  /** accesslog=: told about each response as it ends. */
  access: ((request: GatewayRequest, status: number) => void) | undefined = undefined;
  /** FILTER role only: where FCGI_DATA goes (req.fcgi.data). */
  filterData: Readable | null = null;
  /** Set by ServerResponse.assignSocket(). */
  _httpMessage: ServerResponse | null = null;
  readable = true;
  writable = true;
  destroyed = false;
  /** OutgoingMessage.end() resets this before its final uncork(), which we ignore: one object serves all. */
  readonly _writableState = WRITABLE_STATE;
  /** IncomingMessage sizes its buffer from this: one full record. */
  readonly readableHighWaterMark = 65536;
  readonly writableLength = 0;
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  readonly remoteFamily: string | undefined;
  readonly localAddress: string | undefined;
  readonly localPort: number | undefined;
  /** Express, Koa and Fastify read `socket.encrypted` for req.protocol/secure. */
  readonly encrypted: boolean | undefined;
  private headSent = false;

  constructor(fcgi: GatewayRequest, remoteAddress: string | undefined, remotePort: number | undefined, https: boolean) {
    super();
    this.fcgi = fcgi;
    this.remoteAddress = remoteAddress;
    this.remotePort = remotePort;
    this.remoteFamily = remoteAddress === undefined ? undefined : remoteAddress.includes(':') ? 'IPv6' : 'IPv4';
    const p = fcgi.params;
    this.localAddress = p.SERVER_ADDR || undefined;
    this.localPort = p.SERVER_PORT ? Number(p.SERVER_PORT) : undefined;
    if (https) this.encrypted = true;
  }

  // --- what ServerResponse writes ---

  write(data: string | Uint8Array, encoding?: BufferEncoding | (() => void) | null, cb?: () => void): boolean {
    if (typeof encoding === 'function') {
      cb = encoding;
      encoding = undefined;
    }
    const enc = encoding ?? undefined;
    let ok: boolean;
    if (!this.headSent) {
      // The first write always starts with the head, as a string (OutgoingMessage._send).
      const text = typeof data === 'string' ? data : Buffer.from(data).toString('latin1');
      this.headSent = true;
      ok = this.fcgi.write(cgiMessage(text), typeof data === 'string' ? enc : 'latin1');
    } else if (typeof data === 'string') {
      ok = this.fcgi.write(data, enc);
    } else {
      ok = this.fcgi.write(Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    }
    if (cb) process.nextTick(cb);
    return ok;
  }

  // The FastCGI connection batches every write of a tick already.
  cork(): void {}
  uncork(): void {}

  // --- what IncomingMessage asks for (backpressure on the request body) ---

  resume(): this {
    this.fcgi.resume();
    return this;
  }

  pause(): this {
    this.fcgi.pause();
    return this;
  }

  // --- RequestSink: input from the web server ---

  stdin(chunk: Buffer | null): void {
    const req = this.req;
    // A request known to have no body was ended already: ignore its empty STDIN.
    if (req === null || req.complete) return;
    if (chunk === null) {
      this.readable = false;
      req.complete = true;
      req.push(null);
    } else if (!req.push(chunk)) {
      this.fcgi.pause();
    }
  }

  data(chunk: Buffer | null): void {
    if (this.filterData !== null && !this.filterData.push(chunk) && chunk !== null) this.fcgi.pause();
  }

  /**
   * The web server gave the request up (its client left). As Node's own
   * server on a lost connection: the request is destroyed with an
   * ECONNRESET 'aborted' error ('error' reaches only listeners), the
   * response closes unfinished, and what the app writes afterwards is dropped.
   */
  abort(_reason: Error): void {
    const error = Object.assign(new Error('aborted'), { code: 'ECONNRESET' });
    this.filterData?.destroy(error);
    this.destroy(error);
  }

  drain(): void {
    const res = this._httpMessage;
    if (res === null || res.writableEnded) return;
    if (kNeedDrain !== undefined) (res as unknown as Record<symbol, boolean>)[kNeedDrain] = false;
    res.emit('drain');
  }

  // --- the rest of net.Socket that frameworks touch ---

  /**
   * The socket goes away: by an abort from the web server, or by the app
   * destroying its request or response. An unfinished response is cut off
   * (the web server sees an incomplete reply, as a browser would).
   */
  destroy(error?: Error): this {
    if (this.destroyed) return this;
    this.destroyed = true;
    this.readable = this.writable = false;
    if (!this.fcgi.ended) this.fcgi.fail();
    const req = this.req;
    // A request whose response is still going is over too, body read or not
    // (as Node's server destroys every request it has not answered).
    if (req !== null && !req.destroyed && (!req.complete || this._httpMessage !== null)) req.destroy(error);
    process.nextTick(() => this.emit('close', error !== undefined));
    return this;
  }

  end(): this {
    return this;
  }

  destroySoon(): void {}
  setTimeout(_ms: number, cb?: () => void): this {
    if (cb) this.once('timeout', cb);
    return this;
  }
  setNoDelay(): this {
    return this;
  }
  setKeepAlive(): this {
    return this;
  }
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }
  address(): { address?: string; port?: number; family?: string } {
    return { address: this.localAddress, port: this.localPort };
  }
}
