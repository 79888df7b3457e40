// Kept-alive FastCGI connections to the other workers' private sockets, reused from one handed-over request to the next.

import net from 'node:net';

/** Idle connections kept per worker: about as many as requests are handed to it at once. */
const MAX_IDLE = 16;

/**
 * A connection per handed-over request would cost a connect and an accept
 * each time; FastCGI's FCGI_KEEP_CONN lets one carry request after request.
 * An idle connection the other worker closes (idletimeout=, its stop)
 * leaves the pool at once.
 */
export class ConnectionPool {
  /** Idle connections by socket path, each with what undoes its idle listeners. */
  private readonly idle = new Map<string, Map<net.Socket, () => void>>();

  /** An idle connection to `path`, or a new one (`fresh`: not connected yet). */
  take(path: string): { socket: net.Socket; fresh: boolean } {
    const sockets = this.idle.get(path);
    if (sockets !== undefined) {
      for (const [socket, release] of sockets) {
        sockets.delete(socket);
        release();
        if (!socket.destroyed && socket.readyState === 'open') return { socket, fresh: false };
      }
    }
    return { socket: net.connect(path), fresh: true };
  }

  /** Back after its request's END_REQUEST: kept for the next, or closed when enough are kept. */
  give(path: string, socket: net.Socket): void {
    let sockets = this.idle.get(path);
    if (sockets === undefined) this.idle.set(path, (sockets = new Map()));
    if (socket.destroyed || sockets.size >= MAX_IDLE) {
      socket.destroy();
      return;
    }
    const gone = (): void => void sockets.delete(socket);
    // Nothing comes on an idle connection: what does is not ours to read.
    const unexpected = (): void => {
      socket.destroy();
    };
    socket.on('close', gone);
    socket.on('data', unexpected);
    socket.resume();
    sockets.set(socket, () => {
      socket.off('close', gone);
      socket.off('data', unexpected);
    });
  }
}
