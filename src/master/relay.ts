// Kept-alive connections that leaving workers give away, passed on to workers that stay (lossless worker changes).

import type { Logger } from '../shared/log.js';
import { canWatch, HeldWatch } from './held-watch.js';
import { offerConnections, receiveConnections, type ConnectionOffer } from './listener/connection-handover.js';
import { ipcPipes, type UvHandle } from '../shared/uv-pipes.js';
import { HANDOVER_MS } from './listener/handover.js';
import type { PassedHandle } from './runtime/types.js';
import type { Slot } from './slot.js';

export type { PassedHandle };

interface Held {
  handle: PassedHandle;
  rest: string;
  /** While the pool sleeps (pm=ondemand): the watch on it for the web server's next bytes. */
  watch?: HeldWatch;
}

/**
 * A worker that leaves (reload, maxrequests, maxmemory, a smaller pool)
 * would lose a request if it closed a kept-alive connection while the web
 * server was writing the next one on it: nginx retries a GET elsewhere, but
 * never a POST. So it stops reading the connection between requests and
 * sends it here (the descriptor, and the bytes it had read already); the
 * master never reads it, only hands it to a worker that stays. The web
 * server sees no close, and a request it sent meanwhile waits in the
 * kernel for the new worker. Until a worker can take one, it is held.
 */
export class Relay {
  private held: Held[] = [];
  /** On a restart, once this master's workers all leave: where connections go on (the next master). */
  private onward: ConnectionOffer | null = null;
  /** On a restart: the offer to the next master, made when the handover is announced. */
  private successor: ConnectionOffer | undefined;
  /** While the pool sleeps (pm=ondemand): what wakes it when the web server writes on a held connection. */
  private wake: (() => void) | null = null;
  private readonly log: Logger;

  constructor(log: Logger) {
    this.log = log;
  }

  /** A connection came from a leaving worker: on to a worker that stays, or held until one is ready. */
  take(handle: PassedHandle, rest: string, slots: Iterable<Slot>): void {
    this.held.push({ handle, rest });
    this.place(slots);
    if (this.wake !== null) for (const held of this.held) this.watch(held);
  }

  /** Hands what is held to the workers that can take it (called when a worker becomes ready). */
  place(slots: Iterable<Slot>): void {
    const takers = [...slots].filter(canTake);
    // A worker serves again: the pool is awake.
    if (takers.length > 0) this.wake = null;
    if (this.held.length === 0) return;
    if (takers.length === 0) {
      const onward = this.onward;
      if (onward !== null) for (const held of this.held.splice(0)) onward.send(held.handle as UvHandle, restOf(held));
      return;
    }
    let slept = 0;
    for (const held of this.held.splice(0)) {
      if (held.watch !== undefined) slept++;
      const rest = restOf(held);
      // The least loaded one: several connections from one leaving worker spread out.
      const slot = takers.reduce((a, b) => (b.active + b.handedTo < a.active + a.handedTo ? b : a));
      slot.handedTo++;
      slot.worker.pass(held.handle, rest);
      this.log.debug({ worker: slot.id, restBytes: Math.floor((rest.length * 3) / 4) }, 'kept-alive connection passed on');
    }
    if (slept > 0) this.log.info({ connections: slept }, 'kept-alive connections held while the pool slept passed on to a worker');
  }

  // --- pm=ondemand: the pool sleeps, the web server keeps its connections ---

  /**
   * The pool goes to sleep: the connections its workers give up stay open
   * here, and the first bytes the web server writes on one call `wake` (as a
   * new connection does). False when this Node cannot watch them (the leaving
   * workers then close them, as before).
   */
  sleep(wake: () => void): boolean {
    const ipc = ipcPipes();
    if (typeof ipc === 'string') {
      this.log.warn({ reason: ipc }, 'pm=ondemand: kept-alive connections cannot be held while the pool sleeps; they are closed');
      return false;
    }
    this.wake = wake;
    for (const held of this.held) this.watch(held);
    return true;
  }

  private watch(held: Held): void {
    const ipc = ipcPipes();
    if (held.watch !== undefined || typeof ipc === 'string') return;
    if (!canWatch(held.handle)) {
      // A handle the master cannot read (neither runtime sends one: a process's and a thread's link's are libuv streams): it could never wake the pool.
      this.log.warn('a kept-alive connection the master cannot watch while the pool sleeps: closed');
      this.forget(held);
      return;
    }
    held.watch = new HeldWatch(held.handle, ipc.readBytes, {
      bytes: () => this.wake?.(),
      gone: () => {
        this.forget(held, false);
        this.log.debug({ held: this.held.length }, 'the web server closed a kept-alive connection held while the pool slept');
      },
    });
  }

  private forget(held: Held, close = true): void {
    this.held = this.held.filter((h) => h !== held);
    if (close) held.handle.close();
  }

  // --- restarts: from one master's workers to the next one's ---

  /** A restart begins (SIGTERM with a handover): offer the connections to come to the next master. */
  offerToSuccessor(address: string): void {
    this.successor = offerConnections(address, this.log);
  }

  /**
   * The next master serves (`takenOver`): from now on, what no worker here
   * takes goes to it. True when the workers may give their connections up.
   */
  successorServes(takenOver: boolean): boolean {
    if (!takenOver || this.successor === undefined) return false;
    this.onward = this.successor;
    return true;
  }

  /** A master that serves now takes what a stopping predecessor offers, if one does. */
  takeFromPredecessor(address: string, slots: () => Iterable<Slot>): void {
    receiveConnections(address, (handle, rest) => this.take(handle, rest, slots()), this.log);
  }

  /** The master stops: the next master takes what is still on its way, then the rest closes. */
  async finish(): Promise<void> {
    await this.successor?.finish(HANDOVER_MS);
    this.close();
  }

  /** Nobody will take them (the master stops): the connections close. */
  private close(): void {
    if (this.held.length > 0) this.log.warn({ connections: this.held.length }, 'kept-alive connections from leaving workers closed: no worker left to take them');
    for (const held of this.held.splice(0)) {
      held.watch?.end();
      held.handle.close();
    }
  }
}

/** What goes with a connection: what the leaving worker had read, then what the master read while it slept (base64). */
function restOf(held: Held): string {
  const read = held.watch?.end();
  if (read === undefined || read.length === 0) return held.rest;
  return Buffer.concat([Buffer.from(held.rest, 'base64'), read]).toString('base64');
}

/** A worker that takes connections: ready and not leaving (the master offers only workers of the current generation). */
function canTake(slot: Slot): boolean {
  return slot.state === 'ready' && !slot.retiring;
}
