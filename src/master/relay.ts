// Kept-alive connections that leaving workers give away, passed on to workers that stay (lossless worker changes).

import type { Logger } from '../shared/log.js';
import { offerConnections, receiveConnections, type ConnectionOffer } from './listener/connection-handover.js';
import type { UvHandle } from '../shared/uv-pipes.js';
import { HANDOVER_MS } from './listener/handover.js';
import type { PassedHandle } from './runtime/types.js';
import type { Slot } from './slot.js';

export type { PassedHandle };

interface Held {
  handle: PassedHandle;
  rest: string;
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
  private readonly log: Logger;

  constructor(log: Logger) {
    this.log = log;
  }

  /** A connection came from a leaving worker: on to a worker that stays, or held until one is ready. */
  take(handle: PassedHandle, rest: string, slots: Iterable<Slot>): void {
    this.held.push({ handle, rest });
    this.place(slots);
  }

  /** Hands what is held to the workers that can take it (called when a worker becomes ready). */
  place(slots: Iterable<Slot>): void {
    if (this.held.length === 0) return;
    const takers = [...slots].filter(canTake);
    if (takers.length === 0) {
      const onward = this.onward;
      if (onward !== null) for (const { handle, rest } of this.held.splice(0)) onward.send(handle as UvHandle, rest);
      return;
    }
    for (const { handle, rest } of this.held.splice(0)) {
      // The least loaded one: several connections from one leaving worker spread out.
      const slot = takers.reduce((a, b) => (b.active + b.handedTo < a.active + a.handedTo ? b : a));
      slot.handedTo++;
      slot.worker.pass(handle, rest);
      this.log.debug({ worker: slot.id, restBytes: Math.floor((rest.length * 3) / 4) }, 'kept-alive connection passed on');
    }
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
    for (const { handle } of this.held.splice(0)) handle.close();
  }
}

/** A worker that takes connections: ready and not leaving (the master offers only workers of the current generation). */
function canTake(slot: Slot): boolean {
  return slot.state === 'ready' && !slot.retiring;
}
