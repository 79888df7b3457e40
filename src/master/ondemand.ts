// pm=ondemand: the pool goes down to no worker after processidletimeout seconds without a
// request; the master then watches the listening socket, and a connection starts a worker.

import net from 'node:net';
import type { Logger } from '../shared/log.js';
import { tag, type ToWorker } from '../shared/messages.js';
import type { Slot } from './slot.js';
import { closeFd0, keepFd0Taken } from './listener/fd0.js';

/**
 * While no worker runs, the master listens on the socket itself (on fd 0,
 * where bind.ts put it: closing a handle on fds 0-2 leaves the descriptor
 * open, so the watch can end without losing the socket). Node offers no way
 * to wait for a connection without accepting it, so the master accepts the
 * first one (paused: not a byte is read), stops watching at once (libuv
 * accepts no more once the handle is closed, so the others wait in the
 * backlog for the worker), and hands it to the first worker that is ready.
 */
export class OnDemand {
  /** The pool was stopped for idleness: start no worker until a connection comes. */
  sleeping = false;
  private readonly idleMs: number;
  /** Where the master watches the socket: fd 0, once there is a copy there. */
  private fd: number | undefined;
  private copyAsked = false;
  private readonly log: Logger;
  /** Starts a worker (the master's next turn sees the pool awake). */
  private readonly startWorker: () => void;
  private watch: net.Server | null = null;
  private held: net.Socket[] = [];
  /** Per worker: what it had served when last seen, and when that changed. */
  private readonly seen = new Map<number, { served: number; at: number }>();
  /** When the pool last woke: the first answer's latency is logged from here. */
  private wokeAt = 0;

  /** backlog= as the workers listen with: the master's own listen() must not shrink it back to Node's 511. */
  private readonly backlog: number;

  constructor(idleSeconds: number, fd: number, log: Logger, startWorker: () => void, backlog = 511) {
    this.idleMs = idleSeconds * 1000;
    this.backlog = backlog;
    // A systemd socket (fd 3) gets a copy on fd 0 from the first worker (takeSocket).
    this.fd = fd <= 2 ? fd : undefined;
    this.log = log;
    this.startWorker = startWorker;
  }

  /**
   * Called on every tick of the master. Returns the workers to stop: all of
   * them, once none has had a request for processidletimeout.
   */
  tick(slots: Iterable<Slot>, now: number): Slot[] {
    const all = [...slots];
    if (this.sleeping) {
      // Once no worker accepts any more, the master takes over the socket.
      if (all.every((s) => s.state === 'dead' || s.released)) this.startWatching();
      return [];
    }
    const live = all.filter((s) => s.state !== 'stopping' && s.state !== 'dead');
    // Without a socket to watch, the pool cannot sleep.
    if (this.fd === undefined) return [];
    let latest = 0;
    for (const slot of live) {
      const last = this.seen.get(slot.id);
      const at = last === undefined || last.served !== slot.served || slot.active > 0 || slot.state === 'starting' ? now : last.at;
      this.seen.set(slot.id, { served: slot.served, at });
      latest = Math.max(latest, at);
    }
    for (const id of this.seen.keys()) if (!live.some((s) => s.id === id)) this.seen.delete(id);
    if (live.length === 0 || this.held.length > 0 || now - latest < this.idleMs) return [];
    this.sleeping = true;
    this.log.info({ workers: live.length, idleSeconds: this.idleMs / 1000 }, 'no request for processidletimeout: stopping the workers until a connection comes');
    return live;
  }

  /** A worker is ready: the connection that woke the pool is its to serve. */
  handOver(slot: Slot): void {
    if (this.fd === undefined && !this.copyAsked) this.askCopy(slot);
    if (this.held.length === 0) return;
    for (const socket of this.held.splice(0)) {
      if (socket.destroyed) continue;
      slot.worker.adopt(socket);
    }
    this.log.info({ worker: slot.id, ms: Date.now() - this.wokeAt }, 'worker ready: it serves the connection that woke the pool');
  }

  /**
   * Node has no dup(): a descriptor received over IPC takes the lowest free
   * number, so fd 0 (stdin, /dev/null under systemd) is closed first, and the
   * worker sends its fd 0 back.
   */
  private askCopy(slot: Slot): void {
    this.copyAsked = true;
    closeFd0();
    slot.worker.send(tag<ToWorker>({ type: 'give-socket' }));
  }

  /** The worker's copy of the socket: on fd 0, the master can watch it. */
  takeSocket(handle: unknown): void {
    const h = handle as { fd?: number; close?: () => void } | undefined;
    const fd = h?.fd;
    // Closing a handle on fd 0 leaves the descriptor open (libuv); elsewhere, the copy goes.
    h?.close?.();
    if (fd === 0) {
      this.fd = 0;
      return;
    }
    this.log.error({ fd }, 'no copy of the socket on fd 0: the pool cannot stop when idle');
    keepFd0Taken();
  }

  private startWatching(): void {
    if (this.watch !== null || this.fd === undefined) return;
    const server = net.createServer({ pauseOnConnect: true });
    server.on('connection', (socket: net.Socket) => {
      this.held.push(socket);
      // A connection that goes before a worker can take it is simply forgotten.
      socket.on('error', () => {});
      this.wake('a connection came: starting a worker');
    });
    server.on('error', (error: Error) => this.log.error({ err: error.message }, 'cannot watch the socket for connections'));
    server.listen({ fd: this.fd }, this.backlog);
    this.watch = server;
    this.log.info('no worker runs: the master watches the socket');
  }

  /**
   * Something came for the pool while it sleeps: a connection on the socket,
   * or the web server's next request on a kept-alive connection the master
   * holds (relay.ts). The first one starts a worker; the others wait for it.
   */
  wake(why: string): void {
    if (!this.sleeping) return;
    this.stopWatching();
    this.sleeping = false;
    this.wokeAt = Date.now();
    this.log.info(why);
    this.startWorker();
  }

  private stopWatching(): void {
    this.watch?.close();
    this.watch = null;
  }

  /** The master stops: no more watching; a connection still held is closed. */
  close(): void {
    this.stopWatching();
    for (const socket of this.held.splice(0)) socket.destroy();
  }
}
