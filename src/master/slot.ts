// What the master knows of one worker: its state, and what its heartbeats said.

import { HEARTBEAT_MS, type ToMaster } from '../shared/messages.js';
import type { RuntimeWorker } from './runtime/types.js';

export type WorkerState = 'starting' | 'ready' | 'stopping' | 'dead';

export interface Slot {
  id: number;
  worker: RuntimeWorker;
  state: WorkerState;
  startedAt: number;
  lastBeat: number;
  lagMs: number;
  active: number;
  served: number;
  /** Date.now() when it said ready; 0: not yet (the restart policy tells the two apart). */
  readyAt: number;
  retiring: boolean;
  /** The reload it was started for: one older than the master's is stale, to be replaced. */
  generation: number;
  /** Why it could not boot, as it said (bootError), for the log line of its exit. */
  failure: string | undefined;
  /** Stopped accepting: no longer watches the listening socket. */
  released: boolean;
  slow: number;
  timedOut: number;
  /** Requests whose client left before they were answered. */
  aborted: number;
  oldest: { method: string; uri: string; ms: number } | undefined;
  /** Kept-alive connections the master passed to it from leaving workers (to spread them). */
  handedTo: number;
  /** Bytes, as the worker last measured them (RSS, or a thread's heap and Buffers). */
  memory: number;
}

/** No heartbeat for this long: the worker's event loop is blocked. */
const BLOCKED_MS = 5 * HEARTBEAT_MS;
/** Timer drift beyond this: the worker's event loop is saturated. */
const SATURATED_LAG_MS = 100;

export function newSlot(id: number, worker: RuntimeWorker, generation = 0): Slot {
  const now = Date.now();
  return { id, worker, state: 'starting', startedAt: now, lastBeat: now, readyAt: 0, lagMs: 0, active: 0, served: 0, retiring: false, generation, failure: undefined, released: false, slow: 0, timedOut: 0, aborted: 0, oldest: undefined, handedTo: 0, memory: 0 };
}

/** Busy means its event loop is blocked or saturated, not that it has requests (it has many). */
export function isBusy(slot: Slot, now: number): boolean {
  return now - slot.lastBeat > BLOCKED_MS || slot.lagMs > SATURATED_LAG_MS;
}

/** What a heartbeat says of the worker's load, kept for the pool's decisions and the status page. */
export function noteHeartbeat(slot: Slot, beat: Extract<ToMaster, { type: 'heartbeat' }>): void {
  slot.active = beat.active;
  slot.served = beat.served;
  slot.lagMs = beat.lagMs;
  slot.slow = beat.slow;
  slot.timedOut = beat.timedOut;
  slot.aborted = beat.aborted;
  slot.oldest = beat.oldest;
  slot.memory = beat.memory;
}
