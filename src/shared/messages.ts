// Messages between master and workers. Each carries a marker, so an app's own process.send() never passes for ours.

import type { Options } from '../config/options.js';
import type { PoolStatus } from './pool-status.js';

export const MARK = 'runfcgi';

/**
 * Where a worker process has the listening socket (a thread serves the
 * master's fd 0). Not on fd 0-2: libuv makes a child's fds 0-2 blocking
 * before exec, and the socket's file flags are shared by every process that
 * holds it, so each worker start made it blocking for all workers until the
 * new one listened. A worker woken for a connection that another took then
 * sat in accept(), its event loop with it, until the next connection came
 * (issue 23). Above the IPC channel (3) and APPLOG_LOG_FD (4).
 */
export const WORKER_LISTEN_FD = 5;

/** A worker process reads its WorkerInit from here, then deletes it: the app never sees it. */
export const INIT_ENV = 'RUNFCGI_WORKER_INIT';

/** What a worker needs to boot: the options, and who it is. */
export interface WorkerInit {
  id: number;
  options: Options;
  /** Requests before this worker retires (maxrequests plus jitter); 0 = never. */
  maxRequests: number;
  /** sticky=true: where the workers' private sockets are, and this master's mark in route cookies. */
  routes?: RouteDirectory;
  /** Threads: where to connect the link connections travel over (master/runtime/thread-links.ts), or why there is none. */
  link?: { path: string } | { error: string };
}

/** What crosses a worker thread's link: a kept-alive connection (with its `rest` after the letter), or a new one (pm=ondemand). */
export const LINK_KEPT_ALIVE = 'K';
export const LINK_NEW = 'N';

/** sticky=true: worker N listens on `${dir}/N.sock`; its route cookie's value is `${mark}.${N}`. */
export interface RouteDirectory {
  dir: string;
  mark: string;
}

export type ToMaster =
  | { [MARK]: 1; type: 'ready' }
  /** Every HEARTBEAT_MS: proof of a live event loop, and what it is doing. */
  | {
      [MARK]: 1;
      type: 'heartbeat';
      active: number;
      served: number;
      lagMs: number;
      slow: number;
      timedOut: number;
      /** Requests whose client left before they were answered. */
      aborted: number;
      /** The oldest request in progress, when requests are timed. */
      oldest?: { method: string; uri: string; ms: number } | undefined;
      /** Bytes the worker holds (see workerMemory), measured about once a second. */
      memory: number;
    }
  /** The status page was asked for: the master answers with 'status'. */
  | { [MARK]: 1; type: 'status-request'; id: number; full: boolean }
  /** maxrequests, maxmemory or an error outside a request: the worker takes no new connections and leaves once idle. */
  | { [MARK]: 1; type: 'retiring' }
  /** The answer to 'give-socket': the worker's copy of the listening socket comes with it. */
  | { [MARK]: 1; type: 'socket' }
  /**
   * A leaving worker gives away a kept-alive connection between requests (its
   * descriptor comes with the message): `rest`, base64, is what it had read
   * past the last record it served, to be parsed first by the next worker.
   */
  | { [MARK]: 1; type: 'pass'; rest: string }
  /** The worker stopped accepting: its event loop no longer watches the listening socket. */
  | { [MARK]: 1; type: 'released' }
  /** The worker cannot serve: exitCode per the exit-code contract, and why. */
  | { [MARK]: 1; type: 'bootError'; exitCode: number; message: string };

export type ToWorker =
  /**
   * Stop accepting, finish what is in progress within graceMs, exit 0.
   * `handOff`: give each kept-alive connection back ('pass') once it is
   * between requests, instead of closing it (another worker takes it on).
   */
  | { [MARK]: 1; type: 'stop'; graceMs: number; handOff?: boolean }
  | { [MARK]: 1; type: 'status'; id: number; status: PoolStatus }
  /** SIGUSR1: reopen the log files (logrotate renamed them). */
  | { [MARK]: 1; type: 'reopen' }
  /**
   * pm=ondemand: the connection that woke the pool, accepted by the master;
   * or a connection another worker gave away ('pass'), with its `rest`.
   * A process gets the socket with the message; a thread, its descriptor.
   */
  | { [MARK]: 1; type: 'connection'; fd?: number; rest?: string }
  /** pm=ondemand on a systemd socket (fd 3): send a copy of fd 0 back (see ondemand.ts). */
  | { [MARK]: 1; type: 'give-socket' }
  /** sticky=true: the workers that take requests routed to them now (sent when that changes). */
  | { [MARK]: 1; type: 'members'; ids: number[] };

export const HEARTBEAT_MS = 100;

export function isOurs(message: unknown): message is ToMaster | ToWorker {
  return typeof message === 'object' && message !== null && (message as Record<string, unknown>)[MARK] === 1;
}

type Untagged<T> = T extends unknown ? Omit<T, typeof MARK> : never;

export function tag<T extends ToMaster | ToWorker>(message: Untagged<T>): T {
  return { [MARK]: 1, ...message } as T;
}
