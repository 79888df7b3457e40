// Serves a Node request listener `(req, res)`: Express, Koa's callback(), Connect, http.Server.

import { IncomingMessage, OutgoingMessage, ServerResponse, type RequestListener } from 'node:http';
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { cgiRequest, hasNoBody, requestUrl } from '../protocol/cgi.js';
import type { Logger } from '../shared/log.js';
import type { GatewayRequest } from './types.js';
import { FcgiSocket } from './socket.js';
import { errorBody, type AdapterOptions, type FcgiInfo, type RequestHandler } from './types.js';

declare module 'node:http' {
  interface IncomingMessage {
    /** The FastCGI side of the request: role, raw params, FILTER data, stderr. */
    fcgi?: FcgiInfo;
  }
}

type WithHeaderLines = IncomingMessage & { _addHeaderLines?: (headers: string[], n: number) => void };

/**
 * As Node's parser does: rawHeaders now, the headers object only when an app
 * reads req.headers (many never do). Without that method, build it at once.
 */
function setHeaders(req: WithHeaderLines, raw: string[]): void {
  if (typeof req._addHeaderLines === 'function') {
    req._addHeaderLines(raw, raw.length);
    return;
  }
  const headers: Record<string, string> = {};
  for (let i = 0; i < raw.length; i += 2) headers[raw[i]!] = raw[i + 1]!;
  req.headers = headers;
  req.rawHeaders = raw;
}

// Answered by the web server; written by us they would be taken for the response head.
function noInterimResponses(): void {}

type StoreHeader = (this: ServerResponse, firstLine: string, headers: unknown) => void;
const storeHeader = (OutgoingMessage.prototype as unknown as { _storeHeader: StoreHeader })._storeHeader;

/**
 * Node frames a streamed body in chunks (a `Transfer-Encoding: chunked` it
 * adds, or the app sets); the header is hop-by-hop and is dropped from the
 * CGI head, so the framing must go too, or the browser would get it as
 * content. An own property: Express swaps the response's prototype.
 */
function storeHeaderUnchunked(this: ServerResponse, firstLine: string, headers: unknown): void {
  storeHeader.call(this, firstLine, headers);
  this.chunkedEncoding = false;
}

export function nodeHandler(listener: RequestListener, options: AdapterOptions): RequestHandler {
  const { log, debug } = options;
  lateErrorLog = log;
  return (fcgi: GatewayRequest): void => {
    const cgi = cgiRequest(fcgi.params);
    const socket = new FcgiSocket(fcgi, cgi.remoteAddress, cgi.remotePort, cgi.https);
    const req = new IncomingMessage(socket as unknown as Socket);
    req.method = cgi.method;
    req.url = cgi.url;
    req.httpVersion = cgi.httpVersion;
    req.httpVersionMajor = cgi.httpVersionMajor;
    req.httpVersionMinor = cgi.httpVersionMinor;
    setHeaders(req, cgi.rawHeaders);
    req.fcgi = fcgiInfo(fcgi, socket);
    socket.req = req;
    socket.access = options.access;
    fcgi.attach(socket);
    // As Node's HTTP parser does: a request without a body is complete at once
    // (and the app may answer before the empty STDIN record is even read).
    if (hasNoBody(fcgi.params)) socket.stdin(null);

    const res = new ServerResponse(req);
    // Node's own length logic: a body given whole to end() gets Content-Length
    // (Node skips that branch without chunked encoding). The chunk framing it
    // then chooses for streamed bodies is undone in storeHeaderUnchunked: the
    // web server frames the reply to the browser. Also for HTTP/1.0, where
    // Node would go without either: the web server, not Node, speaks to that
    // client, and a length is what lets it trust the body.
    res.useChunkedEncodingByDefault = true;
    res.shouldKeepAlive = false;
    // Nor a `Connection: close` line, which the CGI head would only drop again
    // (as after res.removeHeader('connection'); hop-by-hop lines the app sets still go).
    (res as ServerResponse & { _removedConnection: boolean })._removedConnection = true;
    // The web server owns the Date header of what it sends.
    res.sendDate = false;
    res.writeContinue = noInterimResponses;
    res.writeProcessing = noInterimResponses;
    res.writeEarlyHints = noInterimResponses;
    (res as unknown as { _storeHeader: StoreHeader })._storeHeader = storeHeaderUnchunked;
    res.assignSocket(socket as unknown as Socket);
    // 'prefinish' comes in the tick of res.end(): END_REQUEST then leaves in
    // the same write as the last body bytes. It comes once: on(), not once(),
    // spares a wrapper per request.
    res.on('prefinish', onResponseEnd);

    try {
      const result: unknown = listener(req, res);
      // An async listener: its rejection is an application error too (the closure only then).
      if (result instanceof Promise) result.catch((error: unknown) => fail(fcgi, res, error, log, debug));
    } catch (error) {
      fail(fcgi, res, error, log, debug);
    }
  };
}

function fail(fcgi: GatewayRequest, res: ServerResponse, error: unknown, log: Logger, debug: boolean): void {
  // The URL as the browser asked for it: routers rewrite req.url on the way.
  log.error({ err: error, method: fcgi.params.REQUEST_METHOD || 'GET', url: requestUrl(fcgi.params) }, 'application error');
  sendError(res, error, debug);
}

// Listeners without closures: they find what they need on the response (hot path).
function onResponseEnd(this: ServerResponse): void {
  const socket = this.socket as unknown as FcgiSocket;
  const req = this.req;
  socket.access?.(socket.fcgi, this.statusCode);
  socket.fcgi.end(0);
  this.detachSocket(this.socket!);
  // As Node's server does: a body the app did not read is discarded. No more
  // of it will come (the FastCGI request has ended), so its stream ends here.
  if (!req.complete) {
    socket.readable = false;
    req.push(null);
  }
  this.on('finish', onResponseFinish);
  // A write after end makes Node emit 'error' on the response: unheard, it
  // would end the worker and every request in it. The response is complete.
  this.on('error', onLateError);
}

/** The logger of the app this worker serves (one app per worker), for errors after a response ended. */
let lateErrorLog: Logger | undefined;

function onLateError(this: ServerResponse, error: Error): void {
  lateErrorLog?.warn({ err: error.message, method: this.req.method, url: this.req.url }, 'the app used the response after it ended');
}

function onResponseFinish(this: ServerResponse): void {
  process.nextTick(emitClose, this);
}

/** As Node's server does: 'close' follows 'finish'. */
function emitClose(res: ServerResponse): void {
  res.destroyed = true;
  res.emit('close');
}

function sendError(res: ServerResponse, error: unknown, debug: boolean): void {
  if (res.headersSent) {
    // Too late for a 500: cut the reply short so the web server sees the failure.
    res.destroy();
    return;
  }
  for (const name of res.getHeaderNames()) res.removeHeader(name);
  const body = errorBody(error, debug);
  res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** req.fcgi: a small object, its method on the prototype (one per request). */
class Info implements FcgiInfo {
  readonly role: FcgiInfo['role'];
  readonly requestId: number;
  readonly params: Record<string, string>;
  data?: Readable;
  private readonly request: GatewayRequest;

  constructor(fcgi: GatewayRequest) {
    this.request = fcgi;
    this.role = fcgi.role;
    this.requestId = fcgi.id;
    this.params = fcgi.params;
  }

  writeStderr(text: string | Buffer): void {
    this.request.writeStderr(text);
  }
}

function fcgiInfo(fcgi: GatewayRequest, socket: FcgiSocket): FcgiInfo {
  const info = new Info(fcgi);
  if (fcgi.role === 'FILTER') {
    // FCGI_DATA as a Readable; its backpressure pauses the connection like the body's.
    info.data = socket.filterData = new Readable({ read: () => fcgi.resume() });
  }
  return info;
}
