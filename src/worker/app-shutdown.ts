// The app's own cleanup when its worker leaves: the SIGTERM Node's own server would get, or its close() export.

import { isMainThread } from 'node:worker_threads';
import type { Logger } from '../shared/log.js';

/**
 * A worker process ignores the signals that reach its whole process group
 * (the master decides how workers stop), with this listener. Registered
 * before the app loads, so it is the first listener of each signal: it
 * tells the app's listeners from ours.
 */
export function ignoreSignal(): void {}

/** Signals a terminal or systemd sends the whole group: Ctrl+C, Ctrl+\, a hangup, KillMode=control-group. */
const GROUP_SIGNALS: ReadonlySet<string | symbol> = new Set(['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT']);

/**
 * Where the worker is in handing SIGTERM to the app, one value:
 * - 'holding': the signals that reach the whole group are kept from the app (the master decides how workers stop);
 * - 'sending': appShutdown sent SIGTERM itself; when it arrives, the app's listeners hear it;
 * - 'heard': the app has it; a SIGTERM now is the app raising it again after its cleanup
 *   (NestJS does, and expects the default action): its cleanup is done.
 */
export type SigtermPhase = 'holding' | 'sending' | 'heard';

/** What one group signal does: reach the app's listeners or not, the next phase, whether the app is done. */
export interface SignalStep {
  toApp: boolean;
  next: SigtermPhase;
  appDone: boolean;
}

/** The transitions, as a table: only our own SIGTERM, once, reaches the app. */
export function onGroupSignal(phase: SigtermPhase, signal: string | symbol): SignalStep {
  const sigterm = signal === 'SIGTERM';
  if (phase === 'sending' && sigterm) return { toApp: true, next: 'heard', appDone: false };
  if (phase === 'heard' && sigterm) return { toApp: false, next: 'heard', appDone: true };
  return { toApp: false, next: phase, appDone: false };
}

let phase: SigtermPhase = 'holding';
/** While 'sending' and 'heard': what appShutdown waits on. */
let waiting: { heard(): void; appDone(): void } | null = null;

/**
 * Keeps the signals that reach the whole process group from the app's
 * listeners: they fire at once, mid-request (NestJS would close its
 * modules under requests in progress), while the master stops the worker
 * gracefully anyway. The app hears SIGTERM once, when its requests are
 * done. Node has no other way to hold a signal from listeners than to wrap
 * process.emit (as the signal-exit package does for 'exit').
 */
export function holdGroupSignals(): void {
  const emit = process.emit as (this: NodeJS.Process, event: string | symbol, ...args: unknown[]) => boolean;
  (process as { emit: typeof emit }).emit = function (this: NodeJS.Process, event: string | symbol, ...args: unknown[]): boolean {
    if (!GROUP_SIGNALS.has(event)) return emit.call(this, event, ...args);
    const step = onGroupSignal(phase, event);
    phase = step.next;
    if (step.appDone) waiting?.appDone();
    if (!step.toApp) return false;
    waiting?.heard();
    return emit.call(this, event, ...args);
  };
  // A listener of our own, so that Node catches these signals at all (their default action ends the process).
  for (const signal of GROUP_SIGNALS) process.on(signal as NodeJS.Signals, ignoreSignal);
}

function appListens(signal: NodeJS.Signals): boolean {
  return process.listeners(signal).some((l) => l !== ignoreSignal);
}

export interface ShutdownOptions {
  /** The app module's close() export, if any. */
  close: (() => unknown) | undefined;
  /** How long the app's cleanup may take (graceperiod=); 0 = stopping now, no cleanup. */
  limitMs: number;
  log: Logger;
  /** Lets go of the worker's own handles (IPC, heartbeat) so that only the app's keep it alive. */
  release: () => void;
}

/**
 * Runs once the worker's requests are done. Calls the app's close(), then,
 * in a worker process whose app listens for SIGTERM, sends it the signal
 * and waits, as under Node's own server, until the app ends the process,
 * raises the signal again, or has nothing left to do (its event loop is
 * empty). At `limitMs` the worker ends anyway, and says so.
 */
export async function appShutdown(options: ShutdownOptions): Promise<void> {
  const { close, limitMs, log } = options;
  const signal = isMainThread && appListens('SIGTERM');
  if (close === undefined && !signal) return;
  if (limitMs === 0) {
    log.info('stopping now: the app\'s shutdown hooks do not run');
    return;
  }
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), limitMs)));
  try {
    if (close !== undefined) {
      const closing = Promise.resolve().then(close).catch((err: unknown) => log.error({ err }, 'the app\'s close() failed'));
      if ((await Promise.race([closing, timedOut])) === 'timeout') return void tooLong(log, limitMs, 'close()');
    }
    if (signal) {
      options.release();
      const outcome = await Promise.race([signalled(timer!), timedOut]);
      if (outcome === 'timeout') return void tooLong(log, limitMs, 'SIGTERM listeners');
    }
    log.debug({ ms: Math.round(performance.now() - started) }, 'the app\'s shutdown hooks ran');
  } finally {
    clearTimeout(timer);
    phase = 'holding';
    waiting = null;
  }
}

/**
 * Sends SIGTERM to this process and resolves once the app is done with it.
 * The limit's timer holds the event loop until the signal arrives (a signal
 * alone keeps no loop alive); from then on only the app's own timers,
 * sockets and pools do, as under Node's own server.
 */
function signalled(timer: NodeJS.Timeout): Promise<'done'> {
  return new Promise((resolve) => {
    const done = (): void => {
      process.off('beforeExit', done);
      resolve('done');
    };
    waiting = {
      heard: () => {
        timer.unref();
        process.on('beforeExit', done);
      },
      appDone: done,
    };
    phase = 'sending';
    process.kill(process.pid, 'SIGTERM');
  });
}

function tooLong(log: Logger, limitMs: number, what: string): void {
  log.warn({ seconds: limitMs / 1000 }, `the app's ${what} did not finish within graceperiod: ending the worker anyway`);
}
