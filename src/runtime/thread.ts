// Worker threads: all in the master's process, all serving the listening socket on fd 0.

import { EventEmitter } from 'node:events';
import { Worker } from 'node:worker_threads';
import type { ToWorker, WorkerInit } from '../messages.js';
import { WORKER_ENTRY, type RuntimeWorker, type WorkerRuntime, type WorkerSetup } from './types.js';

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
}

export const threadRuntime: WorkerRuntime = {
  name: 'threaded',
  spawn(init: WorkerInit, listenFd: number, setup: WorkerSetup): RuntimeWorker {
    if (listenFd !== 0) {
      // libuv closes an fd >= 3 when a thread's server closes, for the whole process.
      throw new Error(`threads serve the listening socket on fd 0 only, not fd ${listenFd}`);
    }
    // Threads share the process's user (the master drops it before they start); env is theirs.
    return new ThreadWorker(new Worker(WORKER_ENTRY, { workerData: init, env: setup.env }));
  },
};
