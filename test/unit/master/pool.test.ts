import { describe, expect, it } from 'vitest';
import { poolDecision } from '../../../src/master/pool.js';

const limits = { minspare: 2, maxspare: 3, maxchildren: 5 };

describe('pool sizing', () => {
  it.each([
    ['starts minspare workers from nothing', { live: 0, starting: 0, spare: 0 }, { spawn: 2, retire: 0 }],
    ['counts workers still starting as coming spares', { live: 2, starting: 2, spare: 0 }, { spawn: 0, retire: 0 }],
    ['adds workers while fewer than minspare are free', { live: 2, starting: 0, spare: 0 }, { spawn: 2, retire: 0 }],
    ['never goes past maxchildren', { live: 4, starting: 0, spare: 0 }, { spawn: 1, retire: 0 }],
    ['stops idle workers beyond maxspare', { live: 5, starting: 0, spare: 5 }, { spawn: 0, retire: 2 }],
    ['does not shrink while workers are starting', { live: 5, starting: 1, spare: 4 }, { spawn: 0, retire: 0 }],
    ['holds steady between the bounds', { live: 3, starting: 0, spare: 3 }, { spawn: 0, retire: 0 }],
  ])('%s', (_what, counts, expected) => {
    expect(poolDecision(counts, limits)).toEqual(expected);
  });
});
