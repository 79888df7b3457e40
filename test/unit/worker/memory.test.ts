import { describe, expect, it } from 'vitest';
import { MB, MemoryWatch, nextCheckIn, workerMemory } from '../../../src/worker/memory.js';

describe('nextCheckIn', () => {
  it('checks every 10 ms when the worker does not grow', () => {
    expect(nextCheckIn(100 * MB, 0)).toBe(10);
    expect(nextCheckIn(100 * MB, -5000)).toBe(10);
    // The first check has no previous one: 0/0.
    expect(nextCheckIn(100 * MB, NaN)).toBe(10);
  });

  it('checks sooner when the growth seen would use half of the headroom before then', () => {
    // 1 MB a millisecond with 8 MB left: due in 4 ms.
    expect(nextCheckIn(8 * MB, MB)).toBe(4);
    // Slow growth far from the limit: the 10 ms ceiling.
    expect(nextCheckIn(100 * MB, 1024)).toBe(10);
    // At the limit: at once, as the next request begins.
    expect(nextCheckIn(0, MB)).toBe(0);
  });
});

describe('MemoryWatch', () => {
  it('without a limit only measures, and its peak is at least what it measured', () => {
    let calls = 0;
    const watch = new MemoryWatch(0, () => calls++);
    const now = watch.measure();
    watch.requestBegan();
    expect(calls).toBe(0);
    expect(watch.peakBytes()).toBeGreaterThanOrEqual(now);
  });

  it('a process past its limit is reported once, as a request begins', () => {
    const seen: number[] = [];
    // 1 MB: any Node process holds more.
    const watch = new MemoryWatch(1, (bytes) => seen.push(bytes));
    watch.requestBegan();
    watch.requestBegan();
    expect(seen).toHaveLength(1);
    expect(seen[0]).toBeGreaterThan(MB);
  });

  it('a process under its limit is not reported', () => {
    const seen: number[] = [];
    const watch = new MemoryWatch(Math.ceil(workerMemory() / MB) + 1024, (bytes) => seen.push(bytes));
    for (let i = 0; i < 100; i++) watch.requestBegan();
    expect(seen).toEqual([]);
  });
});
