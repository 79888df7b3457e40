// One interface, two runtimes: worker processes (prefork) and worker threads (threaded).

import type { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import type { ToWorker, WorkerInit } from '../../shared/messages.js';
import type { AppLines } from '../app-output.js';
import type { Logger } from '../../shared/log.js';

/**
 * A started worker. Emits 'message' (anything the worker sent; the master
 * keeps what carries our marker) and 'exit' (code, signal) once it is gone.
 */
export interface RuntimeWorker extends EventEmitter {
  /** The OS process id (prefork) or the master's own pid with a thread id (threaded). */
  readonly pid: number;
  readonly threadId: number | undefined;
  send(message: ToWorker): void;
  /** Ends the worker at once (SIGKILL, or terminate() for a thread). */
  kill(): void;
  /** Gives the worker a connection the master accepted (pm=ondemand); the master's copy is gone after. */
  adopt(socket: Socket): void;
  /**
   * Gives the worker a kept-alive connection another worker gave away, with
   * the bytes read from it already (base64); the master's copy is closed once sent.
   */
  pass(handle: PassedHandle, rest: string): void;
}

/** What every worker of a pool starts with. */
export interface WorkerSetup {
  env: Record<string, string>;
  /** Processes only: run as this user and group (the master is root). */
  uid?: number | undefined;
  gid?: number | undefined;
  /** applog=json: the app's stdout and stderr come to the master as pipes, for this to turn into log records. */
  appLines?: AppLines | undefined;
  /** For the runtime's own lines (a worker thread's link that fails). */
  log?: Logger | undefined;
}

export interface WorkerRuntime {
  readonly name: 'prefork' | 'threaded';
  /** Starts a worker serving the listening socket the master holds at `listenFd`. */
  spawn(init: WorkerInit, listenFd: number, setup: WorkerSetup): RuntimeWorker;
}

/** The file workers run, beside this one's directory in dist/. */
export const WORKER_ENTRY = new URL('../../worker/main.js', import.meta.url);

/** A connection's descriptor as the master holds it between two workers: a libuv handle, never read here. */
export interface PassedHandle {
  close(): void;
}
