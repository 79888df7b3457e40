// Accept -> FastCGI connection -> application handler, and the graceful close of all of it.

import type net from 'node:net';
import type { RequestHandler } from './adapter/types.js';
import { FcgiConnection, type ConnectionOptions } from './fcgi/connection.js';
import type { Logger } from './log.js';

export interface Serving {
  /** Connections open now. */
  readonly connections: number;
  /** Requests in progress now. */
  readonly activeRequests: number;
  /** Requests begun since start. */
  readonly accepted: number;
  /**
   * Stops accepting, lets requests in progress finish for up to `graceMs`,
   * then closes what is left. Resolves once every connection is gone.
   */
  stop(graceMs: number): Promise<void>;
}

export interface ServeOptions {
  connection?: Partial<ConnectionOptions>;
  /** Called once per request, after the handler was called. */
  onRequest?: () => void;
}

export function serve(server: net.Server, handler: RequestHandler, log: Logger, options: ServeOptions = {}): Serving {
  const connections = new Set<FcgiConnection>();
  let accepted = 0;
  let stopping = false;
  const onRequest = options.onRequest;

  server.on('connection', (socket: net.Socket) => {
    if (stopping) {
      socket.destroy();
      return;
    }
    const connection = new FcgiConnection(socket, options.connection);
    connections.add(connection);
    connection.on('request', (request) => {
      accepted++;
      handler(request);
      onRequest?.();
    });
    connection.on('protocolError', (error: Error) => {
      log.warn({ remote: socket.remoteAddress, err: error.message }, 'closing connection after malformed input');
    });
    connection.on('close', () => connections.delete(connection));
  });

  return {
    get connections() {
      return connections.size;
    },
    get activeRequests() {
      let n = 0;
      for (const c of connections) n += c.activeRequests;
      return n;
    },
    get accepted() {
      return accepted;
    },
    stop(graceMs: number): Promise<void> {
      stopping = true;
      server.close();
      for (const c of connections) c.close();
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
        for (const c of connections) c.on('close', () => setImmediate(check));
        check();
      });
    },
  };
}
