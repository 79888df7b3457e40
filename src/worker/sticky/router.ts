// sticky=true inside a worker: serve a client here, or hand its request to the worker its route cookie names.

import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { GatewayRequest } from '../../adapter/types.js';
import type { RouteDirectory } from '../../shared/messages.js';
import type { RequestRouter } from '../serve.js';
import { cookieValue, setCookieLine } from './cookie.js';
import { forward } from './forward.js';
import { ConnectionPool } from './pool.js';

type Write = GatewayRequest['write'];

/**
 * The route cookie goes in front of the response's first bytes, which are
 * its CGI head: header lines may come in any order (RFC 3875 6.2), so the
 * app's head is not parsed, only preceded.
 */
function withCookie(request: GatewayRequest, line: string): void {
  const target = request as { write: Write };
  const write = target.write;
  target.write = function (chunk, encoding) {
    // Once: the prototype's write serves the rest of the response.
    delete (target as Partial<typeof target>).write;
    if (request.bytesOut !== 0) return write.call(request, chunk, encoding);
    // The line is ASCII: the same bytes in every encoding a head is written in.
    if (typeof chunk === 'string' && (encoding === undefined || encoding === 'latin1' || encoding === 'utf8' || encoding === 'ascii')) return write.call(request, line + chunk, encoding);
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, encoding) : chunk;
    return write.call(request, Buffer.concat([Buffer.from(line, 'latin1'), bytes]));
  };
}

export class Router implements RequestRouter {
  /** The route cookie's value that names this worker. */
  readonly own: string;
  private readonly where: RouteDirectory;
  private readonly cookie: string;
  private readonly line: string;
  /** Route cookie value -> private socket of each other worker that takes routed requests. */
  private members = new Map<string, string>();
  private readonly forwarded = new Set<GatewayRequest>();
  /** FastCGI's kept-alive connections to the other workers; SCGI has one connection per request. */
  private readonly pool: ConnectionPool | undefined;

  constructor(where: RouteDirectory, id: number, cookie: string, protocol: 'fcgi' | 'scgi') {
    this.where = where;
    this.own = `${where.mark}.${id}`;
    this.cookie = cookie;
    this.line = setCookieLine(cookie, this.own);
    this.pool = protocol === 'fcgi' ? new ConnectionPool() : undefined;
  }

  /** The master's list of the workers that take routed requests now. */
  setMembers(ids: number[]): void {
    const members = new Map<string, string>();
    for (const id of ids) {
      const value = `${this.where.mark}.${id}`;
      if (value !== this.own) members.set(value, socketPath(this.where, id));
    }
    this.members = members;
  }

  route(request: GatewayRequest, here: (request: GatewayRequest) => void): boolean {
    const value = cookieValue(request.params.HTTP_COOKIE, this.cookie);
    if (value === this.own) return false;
    const owner = value === undefined ? undefined : this.members.get(value);
    // FILTER and AUTHORIZER requests are answered where they arrive, without a cookie.
    if (request.role !== 'RESPONDER') return false;
    if (owner === undefined) {
      // A new client, or its worker is gone: it is ours from now on.
      withCookie(request, this.line);
      return false;
    }
    this.forwarded.add(request);
    forward(request, owner, this.pool, {
      fallback: (replay) => {
        this.forwarded.delete(request);
        this.members.delete(value!);
        withCookie(request, this.line);
        here(request);
        replay();
      },
      done: () => this.forwarded.delete(request),
    });
    return true;
  }

  get forwarding(): number {
    return this.forwarded.size;
  }

  isForwarded(request: GatewayRequest): boolean {
    return this.forwarded.has(request);
  }
}

export function socketPath(where: RouteDirectory, id: number): string {
  return path.join(where.dir, `${id}.sock`);
}

/**
 * The worker's private socket: what the other workers forward to. Its
 * connections are served as the public socket's are (same protocol, same
 * counts and limits). It closes with the public one, which every way a
 * worker leaves goes through (server.close()): from then on a forwarder
 * cannot connect, and serves the request itself.
 */
export async function listenPrivately(server: net.Server, where: RouteDirectory, id: number): Promise<net.Server> {
  const file = socketPath(where, id);
  fs.rmSync(file, { force: true });
  const own = net.createServer({ allowHalfOpen: true }, (socket) => server.emit('connection', socket));
  await new Promise<void>((resolve, reject) => {
    own.once('error', reject);
    own.listen(file, () => {
      own.off('error', reject);
      resolve();
    });
  });
  const close = server.close.bind(server);
  server.close = (callback?: (error?: Error) => void) => {
    own.close();
    return close(callback);
  };
  return own;
}
