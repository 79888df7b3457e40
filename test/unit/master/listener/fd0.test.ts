// The fd 0 rules: which setups need the listening socket on fd 0, and what a misplaced one is told.

import { describe, expect, it } from 'vitest';
import { misplaced, placementFor } from '../../../../src/master/listener/fd0.js';

describe('the listening socket on fd 0', () => {
  it('worker threads need it on fd 0, worker processes take it from anywhere', () => {
    expect(placementFor({ method: 'threaded', pm: 'dynamic' })).toBe('fd0');
    expect(placementFor({ method: 'prefork', pm: 'dynamic' })).toBe('any');
    expect(placementFor({ method: 'prefork' })).toBe('any');
  });

  it('pm=ondemand needs it on fd 0 under either method (the master watches it while no worker runs)', () => {
    expect(placementFor({ method: 'prefork', pm: 'ondemand' })).toBe('fd0');
    expect(placementFor({ method: 'threaded', pm: 'ondemand' })).toBe('fd0');
  });

  it('a socket elsewhere than fd 0 is refused only where fd 0 is needed, with the fd it got', () => {
    expect(misplaced('fd0', 0)).toBeUndefined();
    expect(misplaced('fd0', 3)).toBe('the socket did not land on fd 0 (got fd 3), which worker threads and pm=ondemand need');
    expect(misplaced('any', 3)).toBeUndefined();
    expect(misplaced('any', 0)).toBeUndefined();
  });
});
