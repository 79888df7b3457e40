import { describe, expect, it } from 'vitest';
import { maxRequestsFor, poolDecision } from '../../../src/master/pool.js';
import { stopChanges, type Phase } from '../../../src/master/phase.js';

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

describe('maxrequests= per worker', () => {
  it('adds up to 10% at random, so that workers started together leave apart; 0 stays "no limit"', () => {
    const seen = new Set(Array.from({ length: 500 }, () => maxRequestsFor(1000)));
    expect(Math.min(...seen)).toBeGreaterThanOrEqual(1000);
    expect(Math.max(...seen)).toBeLessThan(1100);
    expect(seen.size).toBeGreaterThan(10);
    expect(maxRequestsFor(0)).toBe(0);
    expect(maxRequestsFor(1)).toBe(1);
  });
});

describe('which stop wins', () => {
  const cases: [Phase, 'graceful' | 'now', boolean][] = [
    [{ name: 'serving' }, 'graceful', true],
    [{ name: 'stopping', how: 'graceful' }, 'graceful', false],
    [{ name: 'stopping', how: 'graceful' }, 'now', true],
    [{ name: 'draining', how: 'now' }, 'now', false],
    [{ name: 'handingOver', since: 0 }, 'graceful', false],
    [{ name: 'handingOver', since: 0 }, 'now', true],
    [{ name: 'stopped' }, 'now', false],
  ];
  it.each(cases)('in %o, a stop %s changes something: %s', (phase, how, changes) => {
    expect(stopChanges(phase, how)).toBe(changes);
  });
});
