// The pool's counters over its lifetime, and the status page's data made from them.

import type { Listener } from './listener/bind.js';
import { tcpListenQueue } from '../shared/procfs.js';
import { isBusy, type Slot } from './slot.js';
import type { PoolStatus } from '../shared/pool-status.js';

export class PoolStats {
  private readonly startTime = Date.now();
  /** What workers that are gone had counted. */
  private readonly retired = { served: 0, slow: 0, timedOut: 0, aborted: 0 };
  restarts = 0;
  private maxActive = 0;
  private maxChildrenReached = 0;
  private atMaxChildren = false;

  retire(slot: Slot): void {
    this.retired.served += slot.served;
    this.retired.slow += slot.slow;
    this.retired.timedOut += slot.timedOut;
    this.retired.aborted += slot.aborted;
  }

  noteActive(workers: number): void {
    this.maxActive = Math.max(this.maxActive, workers);
  }

  /** Counted once each time the pool wants more workers than maxchildren allows. */
  noteCapped(capped: boolean): void {
    if (capped && !this.atMaxChildren) this.maxChildrenReached++;
    this.atMaxChildren = capped;
  }

  /** The status page's data (PHP-FPM's pm.status_path, for event-loop workers). */
  status(slots: Iterable<Slot>, listener: Listener, method: string, full: boolean): PoolStatus {
    const live = [...slots].filter((s) => s.state !== 'dead');
    const serving = live.filter((s) => s.state === 'ready');
    const port = /^tcp:.*:(\d+)$/.exec(listener.address)?.[1];
    const sum = (f: (s: Slot) => number): number => live.reduce((n, s) => n + f(s), 0);
    const status: PoolStatus = {
      pool: listener.address,
      method,
      startTime: Math.floor(this.startTime / 1000),
      startSince: Math.floor((Date.now() - this.startTime) / 1000),
      acceptedRequests: this.retired.served + sum((s) => s.served),
      listenQueue: port === undefined ? null : tcpListenQueue(Number(port)),
      idleWorkers: serving.filter((s) => s.active === 0).length,
      activeWorkers: serving.filter((s) => s.active > 0).length,
      totalWorkers: live.length,
      maxActiveWorkers: this.maxActive,
      maxChildrenReached: this.maxChildrenReached,
      restarts: this.restarts,
      slowRequests: this.retired.slow + sum((s) => s.slow),
      timedOutRequests: this.retired.timedOut + sum((s) => s.timedOut),
      abortedRequests: this.retired.aborted + sum((s) => s.aborted),
    };
    if (full) {
      const now = Date.now();
      status.workers = live.map((s) => ({
        id: s.id,
        pid: s.worker.pid,
        threadId: s.worker.threadId ?? null,
        state: s.state === 'ready' && isBusy(s, now) ? 'busy' : s.state,
        startTime: Math.floor(s.startedAt / 1000),
        requests: s.served,
        activeRequests: s.active,
        eventLoopLagMs: s.lagMs,
        memoryBytes: s.memory,
      }));
    }
    return status;
  }
}
