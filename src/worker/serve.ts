// Accept -> FastCGI connection -> application handler; time limits; the graceful close of it all.

import type net from 'node:net';
import type { RequestHandler } from '../adapter/types.js';
import { requestUrl } from '../protocol/cgi.js';
import { FcgiConnection, type ConnectionOptions } from '../protocol/fcgi/connection.js';
import { ScgiConnection } from '../protocol/scgi/connection.js';
import type { GatewayRequest } from '../adapter/types.js';
import type { Logger } from '../shared/log.js';
import { Admission } from './admission.js';

export interface Serving {
  /** Connections open now. */
  readonly connections: number;
  /** Requests in progress now. */
  readonly activeRequests: number;
  /** Requests begun since start. */
  readonly accepted: number;
  /** Requests that ran past slowlog=, and past timeout=. */
  readonly slowRequests: number;
  readonly timedOutRequests: number;
  /** Requests the web server gave up before they were answered (their client left). */
  readonly abortedRequests: number;
  /** The oldest request in progress, when requests are timed. */
  oldest(): { method: string; uri: string; ms: number } | undefined;
  /**
   * Stops accepting, lets requests in progress finish for up to `graceMs`,
   * then closes what is left. Resolves once every connection is gone.
   * What becomes of a kept-alive connection, see Leaving.
   */
  stop(graceMs: number, leaving?: Leaving): Promise<void>;
  /** Serves a connection accepted elsewhere (pm=ondemand's master, a leaving worker), `rest` first. */
  adopt(socket: net.Socket, rest?: Buffer): void;
}

/** sticky=true: hands a request to the worker its route cookie names (see sticky/router.ts). */
export interface RequestRouter {
  /**
   * True when `request` went to another worker, which counts and times it;
   * false to serve it here. `here` serves it here after all (the owner left).
   */
  route(request: GatewayRequest, here: (request: GatewayRequest) => void): boolean;
  /** Requests handed to other workers and not over yet: active there, not here. */
  readonly forwarding: number;
  isForwarded(request: GatewayRequest): boolean;
}

/**
 * What a stop does with a kept-alive FastCGI connection, which the web server
 * may be writing the next request on at any moment (nginx retries a GET on
 * another connection when we close one under it, never a POST):
 * - { pass }: hand it over between requests (see FcgiConnection.handOff):
 *   `pass` sends the socket and `rest` away and calls `done` once sent;
 * - 'keep': serve it on until the web server closes it, for up to half of
 *   the grace, then close it between requests (a thread: it cannot pass);
 * - 'close': close it between requests (the whole server stops).
 */
export type Leaving = 'close' | 'keep' | { pass: (socket: net.Socket, rest: Buffer, done: () => void) => void };

export interface ServeOptions {
  protocol?: 'fcgi' | 'scgi';
  connection?: Partial<ConnectionOptions>;
  /** FCGI_WEB_SERVER_ADDRS: TCP peers not allowed are closed at once. */
  allowed?: ((address: string) => boolean) | undefined;
  /** Called once per request, after the handler was called. */
  onRequest?: () => void;
  /** Requests running longer are ended (timeout=); 0 = never. */
  timeoutMs?: number;
  /** Requests running longer are logged and counted as slow (slowlog=); 0 = never. */
  slowMs?: number;
  /** Connections open at once (maxconns=); when full, see admission.ts. */
  maxConns?: number;
  /** A connection that sends nothing for this long is closed (firstbytetimeout=); 0 = never. */
  firstByteMs?: number;
  /** An idle connection is closed after this (idletimeout=); 0 = never. */
  idleMs?: number;
  /** A connection that stops sending mid-request is ended after this (readtimeout=); 0 = never. */
  readMs?: number;
  router?: RequestRouter | undefined;
}

const SWEEP_MS = 1000;
/** See stop(): when a hand-off still waits, it is logged. */
const HANDOFF_SLOW_MS = 5000;

/** idletimeout= and readtimeout=: the connections that sit idle, or send too slowly (slowloris). */
function sweep(connections: Set<Connection>, idleMs: number, readMs: number, log: Logger): void {
  const now = performance.now();
  for (const c of connections) {
    const quiet = now - c.lastInput;
    if (readMs > 0 && quiet > readMs && c.waitingForInput()) {
      log.warn({ seconds: Math.round(quiet / 1000) }, 'the web server stopped sending in the middle of a request: ending it (readtimeout=)');
      c.timeOutInput();
    } else if (idleMs > 0 && quiet > idleMs && c.activeRequests === 0 && !c.waitingForInput()) {
      c.close();
    }
  }
}

/** What the web server gets for a request that ran out of time before it answered. */
const TIMEOUT_RESPONSE = 'Status: 504 Gateway Timeout\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe application took too long to answer.\n';
const CHECK_MS = 100;

/** A connection of either protocol: both emit 'request', 'protocolError' and 'close'. */
type Connection = FcgiConnection | ScgiConnection;

function describe(req: GatewayRequest): { method: string; uri: string } {
  return { method: req.params.REQUEST_METHOD ?? 'GET', uri: requestUrl(req.params) };
}

/** Times requests: logs the slow ones, ends those past the limit. Only exists when a limit is set. */
class RequestClock {
  readonly running = new Set<GatewayRequest>();
  private readonly slowLogged = new WeakSet<GatewayRequest>();
  slow = 0;
  timedOut = 0;

  constructor(private readonly timeoutMs: number, private readonly slowMs: number, private readonly log: Logger) {
    setInterval(() => this.check(), CHECK_MS).unref();
  }

  check(): void {
    const now = performance.now();
    for (const req of this.running) {
      if (req.ended) {
        this.running.delete(req);
        continue;
      }
      const age = now - req.startedAt;
      if (this.slowMs > 0 && age > this.slowMs && !this.slowLogged.has(req)) {
        this.slowLogged.add(req);
        this.slow++;
        this.log.warn({ ...describe(req), seconds: Math.round(age / 100) / 10 }, 'slow request');
      }
      if (this.timeoutMs > 0 && age > this.timeoutMs) {
        this.running.delete(req);
        this.timedOut++;
        this.log.error({ ...describe(req), seconds: Math.round(age / 100) / 10 }, 'request timed out: ended');
        const sink = req.sink;
        // A 504 while nothing was sent; a cut-off reply once something was.
        if (req.bytesOut === 0) {
          req.write(TIMEOUT_RESPONSE);
          req.end(0);
        } else {
          req.fail();
        }
        sink?.abort(new Error('runfcgi: request timed out'));
      }
    }
  }

  oldest(): { method: string; uri: string; ms: number } | undefined {
    let first: GatewayRequest | undefined;
    for (const req of this.running) {
      if (!req.ended && (first === undefined || req.startedAt < first.startedAt)) first = req;
    }
    return first === undefined ? undefined : { ...describe(first), ms: Math.round(performance.now() - first.startedAt) };
  }
}

export function serve(server: net.Server, handler: RequestHandler, log: Logger, options: ServeOptions = {}): Serving {
  const connections = new Set<Connection>();
  let accepted = 0;
  let aborted = 0;
  let stopping = false;
  const onRequest = options.onRequest;
  const timed = (options.timeoutMs ?? 0) > 0 || (options.slowMs ?? 0) > 0;
  const clock = timed ? new RequestClock(options.timeoutMs ?? 0, options.slowMs ?? 0, log) : undefined;

  const allowed = options.allowed;
  const admission = new Admission(options.maxConns ?? Infinity, options.firstByteMs ?? 0, log);
  const idleMs = options.idleMs ?? 0;
  const readMs = options.readMs ?? 0;
  if (idleMs > 0 || readMs > 0) setInterval(() => sweep(connections, idleMs, readMs, log), SWEEP_MS).unref();
  const router = options.router;
  /** A request served by this worker: counted, timed, handled. */
  const here = (request: GatewayRequest): void => {
    accepted++;
    clock?.running.add(request);
    handler(request);
    onRequest?.();
  };
  let leavingHow: Leaving = 'close';
  /** Set by stop(): told each time a connection goes, also one adopted after the stop began. */
  let whenGone: (() => void) | undefined;
  /** A stopping worker's treatment of one connection (see Leaving). */
  const leave = (c: Connection): void => {
    if (typeof leavingHow === 'object' && c instanceof FcgiConnection) {
      const pass = leavingHow.pass;
      c.once('handoff', (rest: Buffer) => pass(c.socket as net.Socket, rest, () => c.destroy()));
      c.handOff();
    } else if (leavingHow !== 'keep') {
      c.close();
    }
  };

  /** `rest`: a kept-alive connection another worker handed over, with what it had read of it. */
  const accept = (socket: net.Socket, rest?: Buffer): void => {
    // A UNIX socket has no peer address: its file's permissions decide who connects.
    const peer = socket.remoteAddress;
    if (allowed !== undefined && peer !== undefined && !allowed(peer)) {
      log.warn({ remote: peer }, 'connection refused: not in FCGI_WEB_SERVER_ADDRS');
      socket.destroy();
      return;
    }
    // After the address check: a peer not allowed must not shed an allowed one.
    if (!admission.admit()) {
      socket.destroy();
      return;
    }
    const connection: Connection = options.protocol === 'scgi' ? new ScgiConnection(socket, options.connection) : new FcgiConnection(socket, options.connection);
    connections.add(connection);
    admission.add(connection);
    connection.on('request', (request: GatewayRequest) => {
      admission.began(connection);
      if (router === undefined || !router.route(request, here)) here(request);
    });
    connection.on('protocolError', (error: Error) => {
      log.warn({ remote: socket.remoteAddress, err: error.message }, 'closing connection after malformed input');
    });
    connection.on('limit', (why: string) => log.warn({ remote: socket.remoteAddress, why }, 'request refused over a limit'));
    connection.on('abort', (request: GatewayRequest, reason: Error) => {
      // A forwarded request's owner counts its client leaving.
      if (router?.isForwarded(request)) return;
      aborted++;
      log.debug({ ...describe(request), why: reason.message }, 'the client left: request closed');
    });
    connection.on('close', () => {
      connections.delete(connection);
      admission.remove(connection);
      whenGone?.();
    });
    // A handed-over connection is the web server's, between requests: never shed, never timed as silent.
    if (rest !== undefined) admission.began(connection);
    // What the previous owner had read already comes before anything the socket brings.
    if (rest !== undefined && rest.length > 0 && connection instanceof FcgiConnection) connection.feed(rest);
    // Given to us while we leave too: on it goes, like our own.
    if (stopping) leave(connection);
  };
  server.on('connection', (socket: net.Socket) => {
    if (stopping) socket.destroy();
    else accept(socket);
  });

  return {
    get connections() {
      return connections.size;
    },
    get activeRequests() {
      let n = 0;
      for (const c of connections) n += c.activeRequests;
      return n - (router?.forwarding ?? 0);
    },
    get accepted() {
      return accepted;
    },
    get slowRequests() {
      return clock?.slow ?? 0;
    },
    get timedOutRequests() {
      return clock?.timedOut ?? 0;
    },
    get abortedRequests() {
      return aborted;
    },
    oldest: () => clock?.oldest(),
    adopt: accept,
    stop(graceMs: number, how: Leaving = 'close'): Promise<void> {
      stopping = true;
      admission.stop();
      leavingHow = how;
      server.close();
      for (const c of connections) leave(c);
      if (typeof how === 'object') {
        // A hand-off waits for requests to end: one that takes this long is worth a line, with what it waits for.
        setTimeout(() => {
          for (const c of connections) if (c instanceof FcgiConnection && c.state === 'handing-off') log.info({ connection: c.describeHandOff() }, 'a kept-alive connection is still not handed on');
        }, HANDOFF_SLOW_MS).unref();
      }
      if (how === 'keep') {
        const late = setTimeout(() => {
          leavingHow = 'close';
          for (const c of connections) c.close();
        }, graceMs / 2);
        late.unref();
      }
      return new Promise((resolve) => {
        const check = (): void => {
          if (connections.size > 0) return;
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          for (const c of connections) c.destroy();
        }, graceMs);
        timer.unref();
        whenGone = () => void setImmediate(check);
        check();
      });
    },
  };
}
