// Why a worker ended, and when its replacement may start: at once after it served, with back-off when it never could.

import type { Slot } from './slot.js';

/**
 * - stopped: we asked it to go (stop, reload, maxspare), or it retired itself (maxrequests, maxmemory).
 * - died: it was serving and ended, or something outside killed it (kill -9, the OOM
 *   killer): a replacement starts at once, as PHP-FPM does; nothing says the code is at fault.
 * - early: it exited or crashed so soon after it was ready that nothing shows its code
 *   works (a crash on its first request, or a timer in the app that kills it): the first
 *   is replaced at once, the next in a row backs off (Backoff.diedEarly).
 * - failed: it exited or crashed (SIGSEGV, SIGABRT) before it was ready (the app cannot
 *   load, a syntax error after a reload): starting another at once would only spin.
 */
export type ExitCause = 'stopped' | 'died' | 'early' | 'failed';

/** Signals a process raises on itself when it crashes (a native module, an abort): its code is at fault. */
const CRASH_SIGNALS: ReadonlySet<string> = new Set(['SIGSEGV', 'SIGBUS', 'SIGILL', 'SIGFPE', 'SIGABRT', 'SIGSYS', 'SIGTRAP']);

/** A worker ready for less than this that served nothing and dies is an early death. */
export const EARLY_DEATH_MS = 2000;

export function exitCause(slot: Slot, code: number | null, signal: NodeJS.Signals | null, now: number): ExitCause {
  if (slot.state === 'stopping') return 'stopped';
  // SIGTERM: the app's own shutdown hook raised it again for its default action, the end (app-shutdown.ts).
  if (slot.retiring && (code === 0 || signal === 'SIGTERM')) return 'stopped';
  // It said why it could not serve (bootError), or the master ended it for starttimeout=.
  if (slot.failure !== undefined) return 'failed';
  // Killed from outside (kill -9, the OOM killer, an operator's SIGTERM): nothing says the code is at fault.
  if (signal !== null && !CRASH_SIGNALS.has(signal)) return 'died';
  if (slot.readyAt === 0) return 'failed';
  return proven(slot, now) ? 'died' : 'early';
}

/** A worker that has served, or stayed up a while after it was ready: its code works. */
export function proven(slot: Slot, at: number): boolean {
  return slot.readyAt > 0 && (slot.served > 0 || at - slot.readyAt >= EARLY_DEATH_MS);
}

export const FIRST_BACKOFF_MS = 500;
export const MAX_BACKOFF_MS = 32_000;

/**
 * Exponential back-off for workers that fail before they serve: 0.5 s, 1 s,
 * 2 s ... 32 s. A step covers every worker started before it: two workers of
 * one pool that fail together are one step and one log line, not two. A
 * worker that proves its code (proven()) ends it; one that is merely ready
 * does not (an app that dies a moment after it is ready would spin).
 */
export class Backoff {
  private step = 0;
  private stepAt = 0;
  /** Early deaths in a row (ExitCause 'early'). */
  private early = 0;
  /** No worker starts before this (Date.now() ms). */
  holdUntil = 0;

  /** A worker started at `startedAt` failed: the delay of the new step, or null when that step is taken already. */
  failed(startedAt: number, now: number): number | null {
    if (this.step > 0 && startedAt <= this.stepAt) return null;
    const delay = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** this.step);
    this.step++;
    this.stepAt = now;
    this.holdUntil = now + delay;
    return delay;
  }

  /** An early death: true when it is one in a row too many, to be backed off as a failure. */
  diedEarly(): boolean {
    this.early++;
    return this.early > 1;
  }

  /** A worker proved its code (see proven()), or the code changed (reload): workers start at once again. */
  reset(): void {
    this.step = 0;
    this.stepAt = 0;
    this.early = 0;
    this.holdUntil = 0;
  }

  get failures(): number {
    return this.step;
  }
}
