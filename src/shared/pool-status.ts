// The pool's state as the status page, `runfcgi status` and the control socket tell it: made by the
// master, rendered by a worker or the CLI.

export interface WorkerStatus {
  id: number;
  pid: number;
  threadId: number | null;
  state: string;
  startTime: number;
  requests: number;
  activeRequests: number;
  eventLoopLagMs: number;
  /** A process's RSS, or a thread's JavaScript heap and Buffers. */
  memoryBytes: number;
}

export interface PoolStatus {
  pool: string;
  method: string;
  startTime: number;
  startSince: number;
  acceptedRequests: number;
  /** Connections waiting to be accepted (TCP on Linux); null where the system does not tell. */
  listenQueue: number | null;
  idleWorkers: number;
  activeWorkers: number;
  totalWorkers: number;
  maxActiveWorkers: number;
  maxChildrenReached: number;
  restarts: number;
  slowRequests: number;
  timedOutRequests: number;
  /** Requests whose client left (the web server gave them up) before they were answered. */
  abortedRequests: number;
  workers?: WorkerStatus[];
}
