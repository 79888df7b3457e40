// Workers that hang: one that never becomes ready (starttimeout=), one whose event loop stopped answering (timeout=).

import type { Logger } from '../shared/log.js';
import type { Slot } from './slot.js';

export interface WatchdogLimits {
  /** starttimeout= in seconds. */
  starttimeout: number;
  /** timeout= in seconds; 0: never. */
  timeout: number;
}

/** What the master does about a hung worker besides ending it. */
export interface WatchdogActions {
  /** A worker of the first start never became ready: the app's start-up hangs (runfcgi stops). */
  bootHangs(): void;
  /** A serving worker was ended for a blocked event loop: it counts as a restart. */
  replaced(): void;
}

/**
 * Ends the workers that hang, with a log line that says which and why; the
 * exit that follows goes through the restart policy like any other. Called
 * on every tick of the master. Returns how many workers have requests (for
 * the pool's statistics).
 */
export function endHungWorkers(slots: Iterable<Slot>, now: number, limits: WatchdogLimits, booting: boolean, log: Logger, actions: WatchdogActions): number {
  const stuckMs = limits.timeout * 1000;
  let active = 0;
  for (const slot of slots) {
    if (slot.active > 0) active++;
    if (slot.state === 'starting' && slot.failure === undefined && now - slot.startedAt > limits.starttimeout * 1000) {
      log.error({ worker: slot.id }, `worker did not become ready within starttimeout=${limits.starttimeout} s: ending it`);
      // Loading the app is what takes a worker this long: stop as for an app that cannot load.
      slot.failure = `did not become ready within starttimeout=${limits.starttimeout} s`;
      if (booting) actions.bootHangs();
      slot.worker.kill();
    } else if (stuckMs > 0 && slot.state === 'ready' && now - slot.lastBeat > stuckMs) {
      // timeout=: its event loop has not answered for that long; its requests cannot finish.
      log.error(
        { worker: slot.id, workerPid: slot.worker.pid, seconds: Math.round((now - slot.lastBeat) / 1000), activeRequests: slot.active, ...(slot.oldest ?? {}) },
        'worker stuck (event loop blocked): replacing it',
      );
      slot.state = 'stopping';
      actions.replaced();
      slot.worker.kill();
    }
  }
  return active;
}
