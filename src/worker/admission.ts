// Which connections a worker keeps when many come at once: maxconns=, firstbytetimeout=, and whom to shed when full.

import type { Logger } from '../shared/log.js';

/** What admission needs of a connection of either protocol. */
export interface Admitted {
  /** performance.now() of the last bytes received. */
  readonly lastInput: number;
  readonly activeRequests: number;
  waitingForInput(): boolean;
  destroy(): void;
}

/** How often silent connections are looked for, and refusals summed up in the log. */
const SWEEP_MS = 1000;

/**
 * A flood of connections that send nothing, or a few bytes and then wait,
 * must not take the places of the web server's own. So a worker that is
 * full closes, for each new connection, the oldest one that has not sent a
 * whole request yet (the web server sends its request the moment it
 * connects, and a connection serving a request is never chosen); it refuses
 * the new one only when none is left to shed. Connections that stay silent
 * for firstbytetimeout= are closed whether the worker is full or not.
 * Log lines are summed up once a second: a flood must not flood the log.
 */
export class Admission {
  /** Open connections, oldest first (a Map keeps insertion order), with when each opened. */
  private readonly open = new Map<Admitted, number>();
  /** Connections that have begun a request: never shed. */
  private readonly served = new WeakSet<Admitted>();
  private readonly counts = { shed: 0, refused: 0, silent: 0 };
  private readonly timer: ReturnType<typeof setInterval>;

  constructor(private readonly maxConns: number, private readonly firstByteMs: number, private readonly log: Logger) {
    this.timer = setInterval(() => this.sweep(performance.now()), SWEEP_MS);
    this.timer.unref();
  }

  /** Called before a new connection is set up: room is made when it can be; false means refuse it. */
  admit(): boolean {
    if (this.open.size < this.maxConns) return true;
    const victim = this.sheddable();
    if (victim === undefined) {
      this.counts.refused++;
      return false;
    }
    this.counts.shed++;
    this.open.delete(victim);
    victim.destroy();
    return true;
  }

  add(connection: Admitted): void {
    this.open.set(connection, performance.now());
  }

  /** The connection began a request: it is the web server's, never shed. */
  began(connection: Admitted): void {
    this.served.add(connection);
  }

  remove(connection: Admitted): void {
    this.open.delete(connection);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** The oldest silent or half-sent first request; else the oldest that stopped mid-request. */
  private sheddable(): Admitted | undefined {
    let stalled: Admitted | undefined;
    for (const c of this.open.keys()) {
      if (!this.served.has(c)) return c;
      if (stalled === undefined && c.waitingForInput()) stalled = c;
    }
    return stalled;
  }

  /** Closes what stayed silent past firstbytetimeout=, and says in one line what was shed or refused. */
  sweep(now: number): void {
    if (this.firstByteMs > 0) {
      for (const [c, openedAt] of this.open) {
        // Oldest first: once one is younger than the limit, so are the rest.
        if (now - openedAt <= this.firstByteMs) break;
        if (c.lastInput > openedAt || this.served.has(c)) continue;
        this.open.delete(c);
        c.destroy();
        this.counts.silent++;
      }
    }
    const { shed, refused, silent } = this.counts;
    if (shed + refused + silent === 0) return;
    this.log.warn(
      { shed, refused, silent, connections: this.open.size, maxconns: this.maxConns },
      'connections closed under load: the oldest that had not sent a request (shed) for new ones at maxconns=, new ones when none could be (refused), silent ones past firstbytetimeout=',
    );
    this.counts.shed = this.counts.refused = this.counts.silent = 0;
  }
}
