// Worker threads: all in the master's process, all serving the listening socket on fd 0; connections passed over their links.

import { EventEmitter } from 'node:events';
import { Worker } from 'node:worker_threads';
import type { Socket } from 'node:net';
import type { HandleLink } from '../../shared/handle-link.js';
import { LINK_KEPT_ALIVE, LINK_NEW, tag, type ToMaster, type ToWorker, type WorkerInit } from '../../shared/messages.js';
import type { UvHandle } from '../../shared/uv-pipes.js';
import { threadLinks, type ThreadLinks } from './thread-links.js';
import type { PassedHandle } from './types.js';
import { WORKER_ENTRY, type RuntimeWorker, type WorkerRuntime, type WorkerSetup } from './types.js';
import { misplaced, placementFor } from '../listener/fd0.js';

/** Sockets whose descriptor a thread owns now (see adopt): only where threads have no link. */
const handedToThreads = new Set<Socket>();

class ThreadWorker extends EventEmitter implements RuntimeWorker {
  readonly pid = process.pid;
  readonly threadId: number;
  private readonly worker: Worker;
  private exited = false;
  /** The thread's link: 'waiting' until it connects, 'none' without one (or once it is gone). */
  private link: HandleLink | 'waiting' | 'none';
  /** What waits for the link to connect. */
  private readonly pending: ((link: HandleLink | undefined) => void)[] = [];

  constructor(worker: Worker, links: ThreadLinks | undefined) {
    super();
    this.worker = worker;
    this.threadId = worker.threadId;
    this.link = links === undefined ? 'none' : 'waiting';
    links?.expect(this.threadId, (link) => this.linked(link));
    worker.on('message', (m) => this.emit('message', m));
    // An uncaught error ends the thread; 'exit' follows with code 1.
    worker.on('error', (error) => this.emit('crash', error));
    worker.on('exit', (code) => {
      this.exited = true;
      links?.forget(this.threadId);
      this.unlinked();
      this.emit('exit', code, null);
    });
  }

  /**
   * A stop waits until the connections passed to the thread are in its hands:
   * they come over the link, the stop over another way, and a thread told to
   * stop with none would leave before they arrive (and they would close).
   */
  send(message: ToWorker): void {
    if (message.type !== 'stop') return this.post(message);
    this.withLink((link) => (link === undefined ? this.post(message) : link.whenIdle(() => this.post(message))));
  }

  private post(message: ToWorker): void {
    if (!this.exited) this.worker.postMessage(message);
  }

  kill(): void {
    void this.worker.terminate();
  }

  /** A connection the master accepted (pm=ondemand): over the link, or else by its number (see byNumber). */
  adopt(socket: Socket): void {
    const handle = (socket as unknown as { _handle?: UvHandle | null })._handle;
    this.withLink((link) => {
      if (link !== undefined && handle != null) link.send(LINK_NEW, handle, () => socket.destroy());
      else this.byNumber(socket);
    });
  }

  /** A kept-alive connection a leaving worker gave away: our copy closes once it is on its way. */
  pass(handle: PassedHandle, rest: string): void {
    this.withLink((link) => {
      if (link === undefined) handle.close();
      else link.send(`${LINK_KEPT_ALIVE}${rest}`, handle as UvHandle, () => handle.close());
    });
  }

  private withLink(use: (link: HandleLink | undefined) => void): void {
    if (this.link === 'waiting' && !this.exited) this.pending.push(use);
    else use(typeof this.link === 'object' ? this.link : undefined);
  }

  private linked(link: HandleLink): void {
    this.link = link;
    // What the thread gives away, on to the master as a process's 'pass' message comes.
    link.onMessage = (text, handle) => {
      if (text.startsWith(LINK_KEPT_ALIVE) && handle !== undefined) this.emit('message', tag<ToMaster>({ type: 'pass', rest: text.slice(1) }), handle);
      else handle?.close();
    };
    link.onClose = () => this.unlinked();
    for (const use of this.pending.splice(0)) use(link);
  }

  private unlinked(): void {
    this.link = 'none';
    for (const use of this.pending.splice(0)) use(undefined);
  }

  /**
   * Without a link, the thread opens a socket of its own on the same fd. Our
   * handle must then never close it (the thread's does, and the number is
   * reused after), and libuv offers no way to let go of an fd without
   * closing it: the handle is kept, unused, for the life of the process.
   */
  private byNumber(socket: Socket): void {
    const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
    if (this.exited || fd === undefined || fd < 0) {
      socket.destroy();
      return;
    }
    handedToThreads.add(socket);
    this.post(tag<ToWorker>({ type: 'connection', fd }));
  }
}

export const threadRuntime: WorkerRuntime = {
  name: 'threaded',
  spawn(init: WorkerInit, listenFd: number, setup: WorkerSetup): RuntimeWorker {
    const wrongFd = misplaced(placementFor({ method: 'threaded' }), listenFd);
    if (wrongFd !== undefined) throw new Error(`worker threads cannot start: ${wrongFd}`);
    // Threads share the process's user (the master drops it before they start); env is theirs.
    const lines = setup.appLines;
    const links = setup.log === undefined ? 'no logger' : threadLinks(setup.log);
    const link: WorkerInit['link'] = typeof links === 'string' ? { error: links } : { path: links.path };
    // applog=json: the thread's process.stdout and stderr come here instead of to ours.
    const worker = new Worker(WORKER_ENTRY, { workerData: { ...init, link }, env: setup.env, stdout: lines !== undefined, stderr: lines !== undefined });
    if (lines !== undefined) {
      lines(worker.stdout, 'stdout', { id: init.id, pid: process.pid });
      lines(worker.stderr, 'stderr', { id: init.id, pid: process.pid });
    }
    return new ThreadWorker(worker, typeof links === 'string' ? undefined : links);
  },
};
