// The master: spawns and supervises workers, keeps the pool sized, takes signals in order.

import type { Listener } from './listener/bind.js';
import { bootError } from './boot-error.js';
import { EXIT_APP_LOAD, EXIT_WORKER_BOOT, RunfcgiError, whereTheLogIs } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import { isOurs, tag, type ToMaster, type ToWorker } from '../shared/messages.js';
import type { Options } from '../config/options.js';
import { maxRequestsFor, poolDecision, reloadSize, resized, staleToStop, type PoolLimits } from './pool.js';
import { watchTouchReload } from './touch-reload.js';
import { Backoff, exitCause, proven } from './restart-policy.js';
import { isStopping, stopChanges, type Phase, type StopHow } from './phase.js';
import { PoolStats } from './pool-stats.js';
import type { PoolStatus } from '../shared/pool-status.js';
import type { RuntimeWorker, WorkerRuntime, WorkerSetup } from './runtime/types.js';
import { isBusy, newSlot, noteHeartbeat, type Slot } from './slot.js';
import { endHungWorkers } from './watchdog.js';
import { STOPPING_TITLE } from '../shared/procfs.js';
import { HANDOVER_MS, handoverDeadline } from './listener/handover.js';
import { SignalQueue, type StopSignal } from './signals.js';
import { OnDemand } from './ondemand.js';
import { StickyPool } from './sticky.js';
import { Relay, type PassedHandle } from './relay.js';

/** What the master is given besides its options. */
export interface MasterSetup {
  worker: WorkerSetup;
  /** SIGUSR1: reopen the master's own log file. */
  reopenLogs(): void;
}

/** How often the master looks at its workers when no signal comes. */
const TICK_MS = 200;

export const SIGNALS: readonly StopSignal[] = ['SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGHUP', 'SIGUSR1', 'SIGTTIN', 'SIGTTOU'];

export class Master {
  private readonly slots = new Map<number, Slot>();
  private readonly limits: PoolLimits;
  private nextId = 1;
  private phase: Phase = { name: 'booting' };
  /** Counts reloads: workers started for an older one are stale. */
  private generation = 0;
  private readonly backoff = new Backoff();
  private onReady: (() => void) | null = null;
  private readonly stats = new PoolStats();
  /** pm=ondemand: stops the pool when idle, watches the socket while no worker runs. */
  private readonly ondemand: OnDemand | null;
  /** sticky=true: the workers' private sockets, and who takes routed requests. */
  private readonly sticky: StickyPool | null;
  /** Kept-alive connections from leaving workers, on their way to workers that stay. */
  private readonly relay: Relay;

  constructor(
    private readonly options: Options,
    private readonly listener: Listener,
    private readonly runtime: WorkerRuntime,
    private readonly log: Logger,
    private readonly signals: SignalQueue,
    private readonly setup: MasterSetup,
  ) {
    this.limits = { minspare: options.minspare, maxspare: options.maxspare, maxchildren: options.maxchildren };
    this.relay = new Relay(log);
    this.ondemand = options.pm === 'ondemand' ? new OnDemand(options.processidletimeout, listener.fd, log, () => signals.wake(), options.backlog) : null;
    this.sticky = options.sticky ? new StickyPool(options) : null;
  }

  /**
   * Runs until stopped. `ready` is called once the first worker answers.
   * Rejects with a RunfcgiError when no worker can boot.
   */
  async run(ready: () => void = () => {}): Promise<void> {
    this.onReady = ready;
    const touch = this.options.touchreload === undefined ? undefined : watchTouchReload(this.options.touchreload, this.log, () => this.signals.push('SIGHUP'));
    this.managePool();
    while (this.phase.name !== 'stopped' && this.phase.name !== 'failed') {
      const signal = await this.signals.next(TICK_MS);
      if (signal !== null) this.dispatch(signal);
      this.step();
      this.sticky?.update(this.slots.values());
    }
    this.sticky?.close();
    touch?.close();
    // Connections a leaving worker passed on, still on their way to a worker (or a successor master).
    if (this.phase.name !== 'failed') await this.relay.finish();
    if (this.phase.name === 'failed') {
      this.killAll();
      throw this.phase.error;
    }
  }

  /** The workers of the current generation: the ones that take connections other workers hand over. */
  private current(): Slot[] {
    return [...this.slots.values()].filter((s) => s.generation === this.generation);
  }

  /** The master's current phase, for tests and the log. */
  get currentPhase(): Phase['name'] {
    return this.phase.name;
  }

  /** One turn of the loop: what this phase does besides answering signals. */
  private step(): void {
    const phase = this.phase;
    switch (phase.name) {
      case 'booting':
      case 'serving':
      case 'reloading':
        this.checkHeartbeats();
        this.sleepIfIdle();
        this.retireStale();
        this.managePool();
        return;
      case 'handingOver':
        // A pool asleep (pm=ondemand) still waits out a handover: the socket stays answered until a successor has it.
        this.checkHeartbeats();
        this.managePool();
        this.checkHandover(phase.since);
        return;
      case 'stopping':
        this.checkHeartbeats();
        this.releaseListener(phase.how);
        return;
      case 'draining':
        this.checkHeartbeats();
        if (this.slots.size === 0) this.phase = { name: 'stopped' };
        return;
      case 'stopped':
      case 'failed':
        return;
    }
  }

  /**
   * pm=ondemand, idle: the workers stop. Processes give their kept-alive connections to the master, which holds them
   * while the pool sleeps (relay.ts): nginx never writes a request on one as it closes. Threads cannot: theirs close.
   */
  private sleepIfIdle(): void {
    const idle = this.ondemand?.tick(this.slots.values(), Date.now()) ?? [];
    const handOff = idle.length > 0 && this.relay.sleep(() => this.ondemand?.wake('a request came on a kept-alive connection: starting a worker'));
    for (const slot of idle) this.stopWorker(slot, this.options.graceperiod * 1000, false, handOff);
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
        return this.stop(isStopping(this.phase) ? 'now' : 'graceful');
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

  private stop(how: StopHow, handover = false): void {
    const phase = this.phase;
    if (!stopChanges(phase, how)) return;
    // A successor checks this title before it takes over our socket path or pidfile.
    process.title = STOPPING_TITLE;
    if (how === 'graceful' && handover && this.listener.canHandOver) {
      this.phase = { name: 'handingOver', since: Date.now() };
      this.listener.announceHandover();
      this.relay.offerToSuccessor(this.listener.address);
      this.log.info({ handoverMs: HANDOVER_MS }, 'stopping gracefully once a successor takes the socket over, or soon');
      return;
    }
    this.stopWorkers(phase.name === 'draining' ? 'draining' : 'stopping', how);
  }

  /** `handOff`: a successor serves now; the workers' kept-alive connections go on to it. */
  private stopWorkers(name: 'stopping' | 'draining', how: StopHow, handOff = false): void {
    this.phase = { name, how };
    const graceMs = how === 'now' ? 0 : this.options.graceperiod * 1000;
    this.log.info({ graceMs }, how === 'now' ? 'stopping now' : 'stopping gracefully');
    for (const slot of this.slots.values()) this.stopWorker(slot, graceMs, true, handOff);
  }

  private checkHandover(since: number): void {
    const takenOver = this.listener.takenOver();
    if (!takenOver && Date.now() < handoverDeadline(since, this.options.pidfile)) return;
    if (takenOver) this.log.info('a successor took the socket over');
    this.stopWorkers('stopping', 'graceful', this.relay.successorServes(takenOver));
  }

  /** Our copy of the socket goes once no worker watches it (threads share it on fd 0). */
  private releaseListener(how: StopHow): void {
    if ([...this.slots.values()].some((s) => !s.released && s.state !== 'dead')) return;
    this.phase = { name: 'draining', how };
    this.ondemand?.close();
    this.listener.close();
    this.listener.cleanup();
    if (this.slots.size === 0) this.phase = { name: 'stopped' };
  }

  /**
   * SIGHUP: fresh workers for the code on disk; the old ones serve until
   * those are ready, then finish what they have. A HUP while a reload is
   * still starting workers restarts it with the newest code: the workers
   * still starting for older code are ended (they serve nothing yet), so a
   * storm of HUPs never multiplies the pool.
   */
  private reload(): void {
    const phase = this.phase.name;
    if (phase !== 'booting' && phase !== 'serving' && phase !== 'reloading') return;
    // New code: whatever failed before may load now.
    this.backoff.reset();
    if (this.ondemand?.sleeping) {
      this.log.info('reloading: no worker runs; the next one loads the app anew');
      return;
    }
    const size = reloadSize(this.slots.values(), this.generation, this.limits);
    this.generation++;
    let ended = 0;
    for (const slot of this.slots.values()) {
      if (slot.state !== 'starting') continue;
      slot.state = 'stopping';
      slot.worker.kill();
      ended++;
    }
    const serving = [...this.slots.values()].filter((s) => s.state === 'ready').length;
    this.log.info({ workers: size, serving, ended }, ended > 0 ? 'reloading again: workers still starting for older code ended, fresh ones start' : 'reloading: starting fresh workers, the old ones finish what they have');
    if (phase !== 'booting') this.phase = { name: 'reloading' };
    for (let i = 0; i < size; i++) this.spawn();
  }

  private resize(delta: 1 | -1): void {
    Object.assign(this.limits, resized(this.limits, delta));
    this.log.info({ minspare: this.limits.minspare, maxspare: this.limits.maxspare }, delta > 0 ? 'one worker more' : 'one worker fewer');
  }

  // --- workers ---

  private spawn(): void {
    const id = this.nextId++;
    const maxRequests = maxRequestsFor(this.options.maxrequests);
    let worker: RuntimeWorker;
    try {
      worker = this.runtime.spawn({ id, options: this.options, maxRequests, ...(this.sticky && { routes: this.sticky.where }) }, this.listener.fd, this.setup.worker);
    } catch (error) {
      this.fail(new RunfcgiError(`cannot start worker ${id}: ${(error as Error).message}`, EXIT_WORKER_BOOT));
      return;
    }
    const slot = newSlot(id, worker, this.generation);
    this.slots.set(id, slot);
    worker.on('message', (m: unknown, handle?: unknown) => {
      if (isOurs(m) && (m as ToMaster).type === 'socket') this.ondemand?.takeSocket(handle);
      else if (isOurs(m) && (m as ToMaster).type === 'pass') this.relay.take(handle as PassedHandle, (m as { rest: string }).rest, this.current());
      else if (isOurs(m)) this.onMessage(slot, m as ToMaster);
    });
    worker.on('crash', (error: Error) => this.log.error({ worker: id, err: error }, 'worker thread crashed'));
    worker.on('exit', (code: number | null, signal: NodeJS.Signals | null) => this.onExit(slot, code, signal));
    this.log.info({ worker: id, workerPid: worker.pid, threadId: worker.threadId }, 'worker starting');
  }

  private onMessage(slot: Slot, message: ToMaster): void {
    const previousBeat = slot.lastBeat;
    slot.lastBeat = Date.now();
    switch (message.type) {
      case 'ready':
        if (slot.state !== 'starting') return;
        slot.state = 'ready';
        slot.readyAt = Date.now();
        this.log.info({ worker: slot.id }, 'worker ready');
        if (this.phase.name === 'booting') {
          this.phase = { name: this.generation > 0 ? 'reloading' : 'serving' };
          try {
            this.listener.publish();
            // A predecessor that is stopping may have kept-alive connections for our workers.
            this.relay.takeFromPredecessor(this.listener.address, () => this.current());
          } catch (error) {
            this.fail(error as RunfcgiError);
            return;
          }
          this.onReady?.();
        }
        this.ondemand?.handOver(slot);
        this.relay.place(this.current());
        this.retireStale();
        return;
      case 'heartbeat': {
        const before = proven(slot, previousBeat);
        noteHeartbeat(slot, message);
        // The new code works once one of its workers proves it: whatever failed before may start at once again.
        if (!before && slot.generation === this.generation && proven(slot, slot.lastBeat)) this.backoff.reset();
        return;
      }
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
    if (this.phase.name === 'booting') {
      this.fail(bootError(this.listener, exitCode, message));
      return;
    }
    // Said with its exit (onExit), once per back-off step.
    slot.failure = message;
  }

  private fail(error: RunfcgiError): void {
    if (this.phase.name !== 'failed') this.phase = { name: 'failed', error };
    this.signals.wake();
  }

  /** The restart policy by cause (restart-policy.ts): replaced at once after it served, with back-off when it never could. */
  private onExit(slot: Slot, code: number | null, signal: NodeJS.Signals | null): void {
    const now = Date.now();
    const cause = exitCause(slot, code, signal, now);
    slot.state = 'dead';
    this.slots.delete(slot.id);
    this.stats.retire(slot);
    const fields = { worker: slot.id, workerPid: slot.worker.pid, code, signal, served: slot.served };
    if (cause === 'stopped') this.log.info(fields, 'worker stopped');
    else if (this.phase.name === 'booting') {
      this.stats.restarts++;
      this.log.warn(fields, 'worker died');
      this.fail(new RunfcgiError(`worker ${slot.id} exited before it could serve (code ${code}, signal ${signal}); ${whereTheLogIs(this.options.errlog)}`, EXIT_WORKER_BOOT));
    } else if (cause === 'died' || (cause === 'early' && !this.backoff.diedEarly())) {
      this.stats.restarts++;
      this.log.warn({ ...fields, restart: 'at once' }, 'worker died');
    } else {
      this.stats.restarts++;
      const delay = this.backoff.failed(slot.startedAt, now);
      const why = slot.failure ?? `exited before it could serve (code ${code}, signal ${signal})`;
      // One line per step: the other workers of a step failed the same way.
      if (delay === null) this.log.debug({ ...fields, why }, 'worker failed before it could serve');
      else this.log.warn({ ...fields, why, backoffMs: delay, failures: this.backoff.failures }, 'worker failed before it could serve: backing off');
    }
    this.signals.wake();
  }

  /** `handOff`: its kept-alive connections go to the workers that stay (relay.ts). */
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

  /** After a reload: stop the stale workers as fresh ones are ready (pool.ts); the reload ends with the last. */
  private retireStale(): void {
    for (const slot of staleToStop(this.slots.values(), this.generation)) this.stopWorker(slot, this.options.graceperiod * 1000, false, true);
    if (this.phase.name !== 'reloading') return;
    for (const slot of this.slots.values()) if (slot.generation < this.generation) return;
    this.log.info({ workers: this.slots.size }, 'reloaded: every worker runs the new code');
    this.phase = { name: 'serving' };
  }

  private checkHeartbeats(): void {
    const active = endHungWorkers(this.slots.values(), Date.now(), this.options, this.phase.name === 'booting', this.log, {
      bootHangs: () => this.fail(new RunfcgiError(`app=${this.options.app ?? ''} did not become ready within starttimeout=${this.options.starttimeout} s: its start-up hangs, or needs a longer starttimeout=`, EXIT_APP_LOAD)),
      replaced: () => this.stats.restarts++,
    });
    this.stats.noteActive(active);
  }

  private managePool(): void {
    const now = Date.now();
    const live = [...this.slots.values()].filter((s) => s.state !== 'stopping' && s.state !== 'dead' && s.generation === this.generation);
    const starting = live.filter((s) => s.state === 'starting').length;
    const spareSlots = live.filter((s) => s.state === 'ready' && !s.retiring && !isBusy(s, now));
    const { spawn, retire } = poolDecision({ live: live.length, starting, spare: spareSlots.length }, this.limits);
    this.stats.noteCapped(live.length >= this.limits.maxchildren && this.limits.minspare - spareSlots.length - starting > 0);
    if (spawn > 0 && now >= this.backoff.holdUntil && !this.ondemand?.sleeping) {
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
