// What a worker holds in memory, for maxmemory= and the status page: measured, checked against the limit, its peak kept.

import { getHeapStatistics } from 'node:v8';
import { isMainThread } from 'node:worker_threads';

/**
 * maxmemory= is checked this often when no request begins (an idle worker
 * whose app grows in the background). Under load the checks as requests
 * begin do the work (see MemoryWatch.requestBegan): a busy event loop runs
 * this timer late, and with it alone a thread keeping 4 MB a request went
 * 35% past a limit of 128 MB.
 */
const CHECK_MS = 100;

/**
 * As requests begin, the memory is read at least this often. Reading a
 * process's RSS (/proc/self/stat) costs ~9 us of CPU: on every request that
 * would be a tenth of a small request's cost, this often it is ~0.1% of a core.
 */
const REQUEST_CHECK_MS = 10;

/** A process's RSS; a thread shares that, so its own isolate's heap and Buffers count (as maxmemory= says). */
export function workerMemory(): number {
  if (isMainThread) return process.memoryUsage.rss();
  const heap = getHeapStatistics();
  return heap.used_heap_size + heap.external_memory;
}

export const MB = 1048576;

/**
 * Measures the worker's memory and keeps its peak. With a limit, checks it
 * every CHECK_MS and as requests begin, and calls `exceeded` once when it is
 * passed.
 */
export class MemoryWatch {
  private peak = 0;
  private state: 'watching' | 'exceeded' | 'unlimited';
  private timer: NodeJS.Timeout | undefined;
  /** The last check: when (performance.now()) and what it read; the next one due as a request begins. */
  private lastAt = 0;
  private lastBytes = 0;
  private nextAt = 0;

  constructor(readonly limitMb: number, private readonly exceeded: (bytes: number) => void) {
    this.state = limitMb > 0 ? 'watching' : 'unlimited';
    if (this.state === 'watching') {
      this.timer = setInterval(() => this.check(), CHECK_MS);
      this.timer.unref();
    }
  }

  /** Bytes held now (workerMemory), counted into the peak. */
  measure(): number {
    const bytes = workerMemory();
    if (bytes > this.peak) this.peak = bytes;
    return bytes;
  }

  /** Called as each request begins: costs a clock read, unless a check is due. */
  requestBegan(): void {
    if (this.state === 'watching' && performance.now() >= this.nextAt) this.check();
  }

  /**
   * The most this worker held: a process's peak RSS as the kernel counted it
   * (getrusage), which no sampling misses; a thread's, the largest it measured.
   */
  peakBytes(): number {
    this.measure();
    return isMainThread ? Math.max(this.peak, process.resourceUsage().maxRSS * 1024) : this.peak;
  }

  private check(): void {
    const now = performance.now();
    const bytes = this.measure();
    const limit = this.limitMb * MB;
    if (bytes > limit) {
      this.state = 'exceeded';
      clearInterval(this.timer);
      this.exceeded(bytes);
      return;
    }
    this.nextAt = now + nextCheckIn(limit - bytes, (bytes - this.lastBytes) / (now - this.lastAt));
    this.lastAt = now;
    this.lastBytes = bytes;
  }
}

/**
 * Milliseconds until the next check as requests begin: REQUEST_CHECK_MS, or
 * sooner when the growth since the last check (bytes a millisecond) would
 * use half of what is left below the limit before then. A worker that leaks
 * fast is so checked at every request near its limit: it goes past it by
 * what its requests in progress add, not by what a timer's tick lets in.
 */
export function nextCheckIn(headroom: number, growth: number): number {
  if (!(growth > 0)) return REQUEST_CHECK_MS;
  return Math.min(REQUEST_CHECK_MS, headroom / growth / 2);
}
