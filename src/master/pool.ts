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
