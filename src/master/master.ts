// The master: spawns and supervises workers, keeps the pool sized, takes signals in order.

import fs from 'node:fs';
import type { Listener } from './listener/bind.js';
import { errnoReason, NO_ADDRESS_MESSAGE } from './listener/bind.js';
import { EXIT_APP_LOAD, EXIT_RUNTIME, EXIT_USAGE, EXIT_WORKER_BOOT, RunfcgiError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import { isOurs, tag, type ToMaster, type ToWorker } from '../shared/messages.js';
import type { Options } from '../config/options.js';
import { poolDecision, type PoolLimits } from './pool.js';
import { PoolStats } from './pool-stats.js';
import type { PoolStatus } from '../shared/pool-status.js';
import type { RuntimeWorker, WorkerRuntime, WorkerSetup } from './runtime/types.js';
import { isBusy, newSlot, type Slot } from './slot.js';
import { STOPPING_TITLE } from '../shared/procfs.js';
import { HANDOVER_MS, handoverDeadline } from './listener/handover.js';
import { SignalQueue, type StopSignal } from './signals.js';
import { OnDemand } from './ondemand.js';
import { Relay, type PassedHandle } from './relay.js';

/** What the master is given besides its options. */
export interface MasterSetup {
  worker: WorkerSetup;
  /** SIGUSR1: reopen the master's own log file. */
  reopenLogs(): void;
}

/** How often the master looks at its workers when no signal comes. */
const TICK_MS = 200;
/** A worker that dies sooner than this after its start counts towards a crash loop. */
const CRASH_WINDOW_MS = 5000;
const MAX_BACKOFF_MS = 10_000;

export const SIGNALS: readonly StopSignal[] = ['SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGHUP', 'SIGUSR1', 'SIGTTIN', 'SIGTTOU'];

export class Master {
  private readonly options: Options;
  private readonly listener: Listener;
  private readonly runtime: WorkerRuntime;
  private readonly log: Logger;
  private readonly signals: SignalQueue;
  private readonly slots = new Map<number, Slot>();
  private readonly limits: PoolLimits;
  private nextId = 1;
  private booted = false;
  private bootFailure: RunfcgiError | null = null;
  private stopping: 'graceful' | 'now' | null = null;
  private crashes = 0;
  private holdSpawnsUntil = 0;
  private onReady: (() => void) | null = null;
  /** When a SIGTERM began to wait for a successor to take the socket over; 0: not waiting. */
  private handoverSince = 0;
  private listenerClosed = false;
  private readonly setup: MasterSetup;
  private readonly stats = new PoolStats();
  /** pm=ondemand: stops the pool when idle, watches the socket while no worker runs. */
  private readonly ondemand: OnDemand | null;
  /** Kept-alive connections from leaving workers, on their way to workers that stay. */
  private readonly relay: Relay;

  constructor(options: Options, listener: Listener, runtime: WorkerRuntime, log: Logger, signals: SignalQueue, setup: MasterSetup) {
    this.options = options;
    this.setup = setup;
    this.listener = listener;
    this.runtime = runtime;
    this.log = log;
    this.signals = signals;
    this.limits = { minspare: options.minspare, maxspare: options.maxspare, maxchildren: options.maxchildren };
    this.relay = new Relay(log);
    this.ondemand = options.pm === 'ondemand' ? new OnDemand(options.processidletimeout, listener.fd, log, () => signals.wake()) : null;
  }

  /**
   * Runs until stopped. `ready` is called once the first worker answers.
   * Rejects with a RunfcgiError when no worker can boot.
   */
  async run(ready: () => void = () => {}): Promise<void> {
    this.onReady = ready;
    if (this.options.touchreload !== undefined) this.watchTouchReload(this.options.touchreload);
    this.managePool();
    // A pool asleep (pm=ondemand) still waits out a handover: the socket stays answered until a successor has it.
    while (this.slots.size > 0 || this.stopping === null || this.handoverSince > 0) {
      const signal = await this.signals.next(TICK_MS);
      if (signal !== null) this.dispatch(signal);
      if (this.bootFailure !== null) break;
      this.checkHeartbeats();
      if (this.stopping === null) for (const slot of this.ondemand?.tick(this.slots.values(), Date.now()) ?? []) this.stopWorker(slot, this.options.graceperiod * 1000, false);
      if (this.stopping === null || this.handoverSince > 0) this.managePool();
      if (this.handoverSince > 0) this.checkHandover();
      if (this.stopping !== null && this.handoverSince === 0) this.releaseListener();
    }
    if (this.options.touchreload !== undefined) fs.unwatchFile(this.options.touchreload);
    if (this.bootFailure !== null) {
      this.killAll();
      throw this.bootFailure;
    }
    this.releaseListener();
    await this.relay.finish();
  }

  /** Workers live now, for tests and the status page. */
  get workerCount(): number {
    return [...this.slots.values()].filter((s) => s.state !== 'dead').length;
  }

  /** The pool as the status page shows it, every worker listed: for `runfcgi status` (control.ts). */
  poolStatus(): PoolStatus & { pm: string; asleep: boolean } {
    return { ...this.stats.status(this.slots.values(), this.listener, this.options.method, true), pm: this.options.pm, asleep: this.ondemand?.sleeping ?? false };
  }

  // --- signals ---

  private dispatch(signal: StopSignal): void {
    this.log.info({ signal }, 'signal');
    switch (signal) {
      case 'SIGTERM':
        return this.stop('graceful', true);
      case 'SIGINT':
        // A second Ctrl+C means "now".
        return this.stop(this.stopping === null ? 'graceful' : 'now');
      case 'SIGQUIT':
        return this.stop('now');
      case 'SIGHUP':
        return this.reload();
      case 'SIGTTIN':
        return this.resize(+1);
      case 'SIGTTOU':
        return this.resize(-1);
      case 'SIGUSR1':
        this.setup.reopenLogs();
        for (const slot of this.slots.values()) slot.worker.send(tag<ToWorker>({ type: 'reopen' }));
        this.log.info('log files reopened');
        return;
    }
  }

  private stop(how: 'graceful' | 'now', handover = false): void {
    if (this.stopping === 'now' || (how === 'graceful' && this.stopping === 'graceful')) return;
    // A successor checks this title before it takes over our socket path or pidfile.
    process.title = STOPPING_TITLE;
    this.stopping = how;
    if (how === 'graceful' && handover && this.listener.canHandOver) {
      this.handoverSince = Date.now();
      this.listener.announceHandover();
      // Threads never give their connections away (see stopWorker).
      if (this.runtime.name === 'prefork') this.relay.offerToSuccessor(this.listener.address);
      this.log.info({ handoverMs: HANDOVER_MS }, 'stopping gracefully once a successor takes the socket over, or soon');
      return;
    }
    this.handoverSince = 0;
    this.stopWorkers();
  }

  /** `handOff`: a successor serves now; the workers' kept-alive connections go on to it. */
  private stopWorkers(handOff = false): void {
    const graceMs = this.stopping === 'now' ? 0 : this.options.graceperiod * 1000;
    this.log.info({ graceMs }, this.stopping === 'now' ? 'stopping now' : 'stopping gracefully');
    for (const slot of this.slots.values()) this.stopWorker(slot, graceMs, true, handOff);
  }

  private checkHandover(): void {
    const takenOver = this.listener.takenOver();
    if (!takenOver && Date.now() < handoverDeadline(this.handoverSince, this.options.pidfile)) return;
    if (takenOver) this.log.info('a successor took the socket over');
    this.handoverSince = 0;
    this.stopWorkers(this.relay.successorServes(takenOver));
  }

  /** Our copy of the socket goes once no worker watches it (threads share it on fd 0). */
  private releaseListener(): void {
    if (this.listenerClosed) return;
    if ([...this.slots.values()].some((s) => !s.released && s.state !== 'dead')) return;
    this.listenerClosed = true;
    this.ondemand?.close();
    this.listener.close();
    this.listener.cleanup();
  }

  private reload(): void {
    if (this.stopping !== null) return;
    if (this.ondemand?.sleeping) {
      this.log.info('reloading: no worker runs; the next one loads the app anew');
      return;
    }
    const current = [...this.slots.values()].filter((s) => s.state !== 'stopping' && s.state !== 'dead');
    this.log.info({ workers: current.length }, 'reloading: starting fresh workers, the old ones finish what they have');
    for (const slot of current) slot.stale = true;
    // As many fresh workers as there are now; the stale ones stop as they come up.
    for (let i = 0; i < Math.max(current.length, this.limits.minspare); i++) this.spawn();
  }

  private resize(delta: 1 | -1): void {
    const l = this.limits;
    if (delta > 0) {
      l.minspare = Math.min(l.minspare + 1, l.maxchildren);
      l.maxspare = Math.max(l.maxspare, l.minspare);
    } else {
      l.maxspare = Math.max(1, l.maxspare - 1);
      l.minspare = Math.min(l.minspare, l.maxspare);
    }
    this.log.info({ minspare: l.minspare, maxspare: l.maxspare }, delta > 0 ? 'one worker more' : 'one worker fewer');
  }

  private watchTouchReload(file: string): void {
    let last = fs.statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? 0;
    fs.watchFile(file, { interval: 1000 }, (stat) => {
      if (stat.mtimeMs === last) return;
      last = stat.mtimeMs;
      this.log.info({ file }, 'touchreload: file changed');
      this.signals.push('SIGHUP');
    });
  }

  // --- workers ---

  private spawn(): void {
    const id = this.nextId++;
    const jitter = this.options.maxrequests > 1 ? Math.floor(Math.random() * Math.ceil(this.options.maxrequests * 0.1)) : 0;
    const maxRequests = this.options.maxrequests === 0 ? 0 : this.options.maxrequests + jitter;
    let worker: RuntimeWorker;
    try {
      worker = this.runtime.spawn({ id, options: this.options, maxRequests }, this.listener.fd, this.setup.worker);
    } catch (error) {
      this.fail(new RunfcgiError(`cannot start worker ${id}: ${(error as Error).message}`, EXIT_WORKER_BOOT));
      return;
    }
    const slot = newSlot(id, worker);
    this.slots.set(id, slot);
    worker.on('message', (m: unknown, handle?: unknown) => {
      if (isOurs(m) && (m as ToMaster).type === 'socket') this.ondemand?.takeSocket(handle);
      else if (isOurs(m) && (m as ToMaster).type === 'pass') this.relay.take(handle as PassedHandle, (m as { rest: string }).rest, this.slots.values());
      else if (isOurs(m)) this.onMessage(slot, m as ToMaster);
    });
    worker.on('crash', (error: Error) => this.log.error({ worker: id, err: error }, 'worker thread crashed'));
    worker.on('exit', (code: number | null, signal: NodeJS.Signals | null) => this.onExit(slot, code, signal));
    this.log.info({ worker: id, workerPid: worker.pid, threadId: worker.threadId }, 'worker starting');
  }

  private onMessage(slot: Slot, message: ToMaster): void {
    slot.lastBeat = Date.now();
    switch (message.type) {
      case 'ready':
        if (slot.state === 'starting') slot.state = 'ready';
        this.log.info({ worker: slot.id }, 'worker ready');
        if (!this.booted) {
          this.booted = true;
          try {
            this.listener.publish();
            // A predecessor that is stopping may have kept-alive connections for our workers.
            this.relay.takeFromPredecessor(this.listener.address, () => this.slots.values());
          } catch (error) {
            this.fail(error as RunfcgiError);
            return;
          }
          this.onReady?.();
        }
        this.ondemand?.handOver(slot);
        this.relay.place(this.slots.values());
        this.retireStale();
        return;
      case 'heartbeat':
        // A worker that outlived the crash window ends a crash loop.
        if (this.crashes > 0 && slot.lastBeat - slot.startedAt > CRASH_WINDOW_MS) this.crashes = 0;
        slot.active = message.active;
        slot.served = message.served;
        slot.lagMs = message.lagMs;
        slot.slow = message.slow;
        slot.timedOut = message.timedOut;
        slot.aborted = message.aborted;
        slot.oldest = message.oldest;
        slot.memory = message.memory;
        return;
      case 'retiring':
        slot.retiring = true;
        this.stats.restarts++;
        this.signals.wake();
        return;
      case 'status-request':
        slot.worker.send(tag<ToWorker>({ type: 'status', id: message.id, status: this.stats.status(this.slots.values(), this.listener, this.options.method, message.full) }));
        return;
      case 'released':
        slot.released = true;
        this.signals.wake();
        return;
      case 'bootError':
        this.onBootError(slot, message.exitCode, message.message);
        return;
    }
  }

  private onBootError(slot: Slot, exitCode: number, message: string): void {
    slot.state = 'stopping';
    if (!this.booted) {
      this.fail(this.bootError(exitCode, message));
      return;
    }
    this.log.error({ worker: slot.id, exitCode }, `worker could not boot: ${message}`);
  }

  /** The user-facing error for a worker that could not boot before any worker was up. */
  private bootError(exitCode: number, message: string): RunfcgiError {
    const listen = /^listen: (\w+)$/.exec(message);
    if (listen) {
      if (this.listener.inherited && (listen[1] === 'EINVAL' || listen[1] === 'ENOTSOCK' || listen[1] === 'EOPNOTSUPP')) {
        return new RunfcgiError(NO_ADDRESS_MESSAGE, EXIT_USAGE);
      }
      return new RunfcgiError(`cannot listen on ${this.listener.address.replace(/^(tcp|unix):/, '')}: ${errnoReason(listen[1])}`, EXIT_RUNTIME);
    }
    return new RunfcgiError(message, exitCode);
  }

  private fail(error: RunfcgiError): void {
    this.bootFailure ??= error;
    this.signals.wake();
  }

  private onExit(slot: Slot, code: number | null, signal: NodeJS.Signals | null): void {
    // SIGTERM: the app's own shutdown hook raised it again for its default action, the end (app-shutdown.ts).
    const expected = slot.state === 'stopping' || (slot.retiring && (code === 0 || signal === 'SIGTERM'));
    slot.state = 'dead';
    this.slots.delete(slot.id);
    this.stats.retire(slot);
    if (expected) this.log.info({ worker: slot.id, served: slot.served }, 'worker stopped');
    else {
      this.stats.restarts++;
      this.log.warn({ worker: slot.id, workerPid: slot.worker.pid, code, signal }, 'worker died');
      if (!this.booted && this.bootFailure === null) {
        this.fail(new RunfcgiError(`worker ${slot.id} exited before it could serve (code ${code}, signal ${signal}); see the log above`, EXIT_WORKER_BOOT));
      }
      if (Date.now() - slot.startedAt < CRASH_WINDOW_MS) {
        this.crashes++;
        const backoff = Math.min(MAX_BACKOFF_MS, 100 * 2 ** (this.crashes - 1));
        this.holdSpawnsUntil = Date.now() + backoff;
        if (this.crashes > 1) this.log.warn({ backoffMs: backoff, crashes: this.crashes }, 'workers keep dying: backing off');
      }
    }
    this.signals.wake();
  }

  /** `handOff`: its kept-alive connections go to the workers that stay (relay.ts), from a process. */
  private stopWorker(slot: Slot, graceMs: number, force: boolean, handOff = false): void {
    if (slot.state === 'dead' || (slot.state === 'stopping' && !force)) return;
    slot.state = 'stopping';
    slot.worker.send(tag<ToWorker>({ type: 'stop', graceMs, handOff }));
    // A worker that does not leave in time, or cannot hear us, is ended:
    // graceMs for its requests, graceMs more for the app's shutdown hooks.
    setTimeout(() => {
      if (slot.state !== 'dead') slot.worker.kill();
    }, 2 * graceMs + 2000).unref();
  }

  private killAll(): void {
    for (const slot of this.slots.values()) slot.worker.kill();
  }

  /** After a reload: stop one stale worker for each fresh one that is ready. */
  private retireStale(): void {
    const fresh = [...this.slots.values()].filter((s) => !s.stale && s.state === 'ready').length;
    const stale = [...this.slots.values()].filter((s) => s.stale && s.state !== 'stopping' && s.state !== 'dead');
    const pending = [...this.slots.values()].filter((s) => !s.stale && s.state === 'starting').length;
    // Keep old workers serving until the new ones can take over.
    const canStop = pending === 0 ? stale.length : Math.min(stale.length, fresh);
    for (const slot of stale.slice(0, canStop)) this.stopWorker(slot, this.options.graceperiod * 1000, false, true);
  }

  private checkHeartbeats(): void {
    const now = Date.now();
    const stuckMs = this.options.timeout * 1000;
    let active = 0;
    for (const slot of this.slots.values()) {
      if (slot.active > 0) active++;
      if (slot.state === 'starting' && now - slot.startedAt > this.options.starttimeout * 1000) {
        this.log.error({ worker: slot.id }, `worker did not become ready within starttimeout=${this.options.starttimeout} s: ending it`);
        // Loading the app is what takes a worker this long: stop as for an app that cannot load.
        if (!this.booted) this.fail(new RunfcgiError(`app=${this.options.app ?? ''} did not become ready within starttimeout=${this.options.starttimeout} s: its start-up hangs, or needs a longer starttimeout=`, EXIT_APP_LOAD));
        slot.worker.kill();
      } else if (stuckMs > 0 && slot.state === 'ready' && now - slot.lastBeat > stuckMs) {
        // timeout=: its event loop has not answered for that long; its requests cannot finish.
        this.log.error(
          { worker: slot.id, workerPid: slot.worker.pid, seconds: Math.round((now - slot.lastBeat) / 1000), activeRequests: slot.active, ...(slot.oldest ?? {}) },
          'worker stuck (event loop blocked): replacing it',
        );
        slot.state = 'stopping';
        this.stats.restarts++;
        slot.worker.kill();
      }
    }
    this.stats.noteActive(active);
  }

  private managePool(): void {
    const now = Date.now();
    const live = [...this.slots.values()].filter((s) => s.state !== 'stopping' && s.state !== 'dead' && !s.stale);
    const starting = live.filter((s) => s.state === 'starting').length;
    const spareSlots = live.filter((s) => s.state === 'ready' && !s.retiring && !isBusy(s, now));
    const { spawn, retire } = poolDecision({ live: live.length, starting, spare: spareSlots.length }, this.limits);
    this.stats.noteCapped(live.length >= this.limits.maxchildren && this.limits.minspare - spareSlots.length - starting > 0);
    if (spawn > 0 && now >= this.holdSpawnsUntil && !this.ondemand?.sleeping) {
      for (let i = 0; i < spawn; i++) this.spawn();
    }
    // Retire the least loaded spare workers, newest first (the oldest have warm caches).
    const idle = spareSlots.sort((a, b) => a.active - b.active || b.startedAt - a.startedAt);
    for (const slot of idle.slice(0, retire)) {
      this.log.info({ worker: slot.id }, 'more spare workers than maxspare: stopping one');
      this.stopWorker(slot, this.options.graceperiod * 1000, false, true);
    }
  }
}
