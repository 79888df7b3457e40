// How many workers to start or stop: Django's minspare/maxspare/maxchildren, for event-loop workers.

export interface PoolLimits {
  minspare: number;
  maxspare: number;
  maxchildren: number;
}

export interface PoolCounts {
  /** Workers not stopping: starting, ready, busy or retiring. */
  live: number;
  starting: number;
  /** Ready, not busy, not retiring: able to take more work now. */
  spare: number;
}

/**
 * A Node worker serves many requests at once, so "busy" does not mean "has
 * a request" (as in PHP-FPM) but "its event loop is blocked or saturated".
 * Keep at least `minspare` workers free to answer (counting those still
 * starting), at most `maxspare` idle, and never more than `maxchildren`.
 */
export function poolDecision(counts: PoolCounts, limits: PoolLimits): { spawn: number; retire: number } {
  const wanted = limits.minspare - counts.spare - counts.starting;
  const spawn = Math.max(0, Math.min(wanted, limits.maxchildren - counts.live));
  // Shrink only when nothing is starting, so the two never chase each other.
  const retire = counts.starting === 0 ? Math.max(0, counts.spare - limits.maxspare) : 0;
  return { spawn, retire };
}

/** What a reload needs to know of one worker (a Slot). */
export interface ReloadView {
  state: 'starting' | 'ready' | 'stopping' | 'dead';
  generation: number;
  startedAt: number;
}

/**
 * How many workers a reload starts for the new code: as many as the pool
 * had for the newest code before it (counting those still starting), at
 * least minspare, never past maxchildren. Workers of older reloads that
 * still serve are not counted: they are on their way out.
 */
export function reloadSize(slots: Iterable<ReloadView>, previous: number, limits: PoolLimits): number {
  let pool = 0;
  for (const s of slots) if (s.generation === previous && (s.state === 'starting' || s.state === 'ready')) pool++;
  return Math.min(limits.maxchildren, Math.max(pool, limits.minspare));
}

/**
 * The stale workers (started for older code) to stop now: as many as keeps
 * the workers serving (fresh ready ones plus stale ones) at the size of the
 * fresh pool, so all of them once no fresh one is still starting; none while
 * no fresh one is ready (code that cannot load leaves the old workers
 * serving). Oldest first.
 */
export function staleToStop<T extends ReloadView>(slots: Iterable<T>, generation: number): T[] {
  const all = [...slots];
  const fresh = all.filter((s) => s.generation === generation && (s.state === 'ready' || s.state === 'starting'));
  const ready = fresh.filter((s) => s.state === 'ready').length;
  if (ready === 0) return [];
  const stale = all.filter((s) => s.generation < generation && s.state === 'ready').sort((a, b) => a.generation - b.generation || a.startedAt - b.startedAt);
  const keep = fresh.length - ready;
  return stale.slice(0, Math.max(0, stale.length - keep));
}
/**
 * SIGTTIN / SIGTTOU (gunicorn's): one spare worker more or fewer.
 * minspare never goes past maxchildren, maxspare never under 1, and
 * minspare <= maxspare holds after either.
 */
export function resized(limits: PoolLimits, delta: 1 | -1): PoolLimits {
  let { minspare, maxspare } = limits;
  if (delta > 0) {
    minspare = Math.min(minspare + 1, limits.maxchildren);
    maxspare = Math.max(maxspare, minspare);
  } else {
    maxspare = Math.max(1, maxspare - 1);
    minspare = Math.min(minspare, maxspare);
  }
  return { minspare, maxspare, maxchildren: limits.maxchildren };
}

/**
 * maxrequests= for one worker: up to 10% more, at random, so that workers
 * started together do not all leave together.
 */
export function maxRequestsFor(maxrequests: number): number {
  if (maxrequests === 0) return 0;
  return maxrequests + (maxrequests > 1 ? Math.floor(Math.random() * Math.ceil(maxrequests * 0.1)) : 0);
}
