// The master's phase: one value for its whole lifecycle, from booting to stopped.

import type { RunfcgiError } from '../shared/errors.js';

/**
 * The master's lifecycle as one value (PHP-FPM's fpm_state, gunicorn's
 * arbiter): each phase names what the loop does on its turn (step()).
 * - booting: no worker has been ready yet; one that dies fails the start.
 * - serving: the pool is kept at its size.
 * - reloading: workers of older code still run; they stop as fresh ones are ready.
 * - handingOver: a SIGTERM waits (and serves) until a successor has the socket.
 * - stopping: workers are told to stop; the socket is ours until none watches it.
 * - draining: the socket is closed; the last workers finish.
 * - stopped, failed: the loop ends (failed: no worker could boot).
 */
export type Phase =
  | { name: 'booting' }
  | { name: 'serving' }
  | { name: 'reloading' }
  | { name: 'handingOver'; since: number }
  | { name: 'stopping'; how: StopHow }
  | { name: 'draining'; how: StopHow }
  | { name: 'stopped' }
  | { name: 'failed'; error: RunfcgiError };

export type StopHow = 'graceful' | 'now';

/** A stop has begun: a second Ctrl+C means "now". */
export function isStopping(phase: Phase): boolean {
  return phase.name === 'handingOver' || phase.name === 'stopping' || phase.name === 'draining';
}

/**
 * Whether a stop asked `how` changes anything in `phase`: a graceful stop
 * never overrides one under way (or a handover), a stop "now" overrides a
 * graceful one, and nothing follows the end.
 */
export function stopChanges(phase: Phase, how: StopHow): boolean {
  if (phase.name === 'stopped' || phase.name === 'failed') return false;
  if ((phase.name === 'stopping' || phase.name === 'draining') && (phase.how === 'now' || how === 'graceful')) return false;
  return !(phase.name === 'handingOver' && how === 'graceful');
}
