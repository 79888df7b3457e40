// Worker threads: all in the master's process, all serving the listening socket on fd 0.

import { EventEmitter } from 'node:events';
import { Worker } from 'node:worker_threads';
import type { Socket } from 'node:net';
import { tag, type ToWorker, type WorkerInit } from '../../shared/messages.js';
import type { PassedHandle } from './types.js';
import { WORKER_ENTRY, type RuntimeWorker, type WorkerRuntime, type WorkerSetup } from './types.js';
import { misplaced, placementFor } from '../listener/fd0.js';

/** Sockets whose descriptor a thread owns now (see adopt). */
const handedToThreads = new Set<Socket>();

class ThreadWorker extends EventEmitter implements RuntimeWorker {
  readonly pid = process.pid;
  readonly threadId: number;
  private readonly worker: Worker;
  private exited = false;

  constructor(worker: Worker) {
    super();
    this.worker = worker;
    this.threadId = worker.threadId;
    worker.on('message', (m) => this.emit('message', m));
    // An uncaught error ends the thread; 'exit' follows with code 1.
    worker.on('error', (error) => this.emit('crash', error));
    worker.on('exit', (code) => {
      this.exited = true;
      this.emit('exit', code, null);
    });
  }

  send(message: ToWorker): void {
    if (!this.exited) this.worker.postMessage(message);
  }

  kill(): void {
    void this.worker.terminate();
  }

  /**
   * Threads cannot receive a handle, but they share our descriptors: the
   * thread opens a socket of its own on the same fd. Our handle must then
   * never close it (the thread's does, and the number is reused after), and
   * libuv offers no way to let go of an fd without closing it: the handle is
   * kept, unused, for the life of the process (one per wake-up of the pool).
   */
  adopt(socket: Socket): void {
    const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
    if (this.exited || fd === undefined || fd < 0) {
      socket.destroy();
      return;
    }
    handedToThreads.add(socket);
    this.worker.postMessage(tag<ToWorker>({ type: 'connection', fd }));
  }

  /** Threads are never asked to hand connections off (a leaving thread would close the descriptor): none come. */
  pass(handle: PassedHandle): void {
    handle.close();
  }
}

export const threadRuntime: WorkerRuntime = {
  name: 'threaded',
  spawn(init: WorkerInit, listenFd: number, setup: WorkerSetup): RuntimeWorker {
    const wrongFd = misplaced(placementFor({ method: 'threaded' }), listenFd);
    if (wrongFd !== undefined) throw new Error(`worker threads cannot start: ${wrongFd}`);
    // Threads share the process's user (the master drops it before they start); env is theirs.
    const lines = setup.appLines;
    // applog=json: the thread's process.stdout and stderr come here instead of to ours.
    const worker = new Worker(WORKER_ENTRY, { workerData: init, env: setup.env, stdout: lines !== undefined, stderr: lines !== undefined });
    if (lines !== undefined) {
      lines(worker.stdout, 'stdout', { id: init.id, pid: process.pid });
      lines(worker.stderr, 'stderr', { id: init.id, pid: process.pid });
    }
    return new ThreadWorker(worker);
  },
};
