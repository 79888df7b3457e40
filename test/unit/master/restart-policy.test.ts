import { describe, expect, it } from 'vitest';
import { Backoff, EARLY_DEATH_MS, exitCause } from '../../../src/master/restart-policy.js';
import type { RuntimeWorker } from '../../../src/master/runtime/types.js';
import { newSlot, type Slot } from '../../../src/master/slot.js';

function slot(fields: Partial<Slot>): Slot {
  return Object.assign(newSlot(1, {} as RuntimeWorker), { startedAt: 0 }, fields);
}

const NOW = 100_000;

describe('exit causes', () => {
  it.each<[string, Partial<Slot>, number | null, NodeJS.Signals | null, string]>([
    ['told to stop', { state: 'stopping', readyAt: 1 }, 0, null, 'stopped'],
    ['told to stop, then killed for taking too long', { state: 'stopping', readyAt: 1 }, null, 'SIGKILL', 'stopped'],
    ['retired itself (maxrequests) and exited', { state: 'ready', readyAt: 1, retiring: true }, 0, null, 'stopped'],
    ['retired, and the app re-raised SIGTERM', { state: 'ready', readyAt: 1, retiring: true }, null, 'SIGTERM', 'stopped'],
    ['killed with -9 while serving', { state: 'ready', readyAt: 1, served: 10 }, null, 'SIGKILL', 'died'],
    ['killed with -9 while still starting', { state: 'starting' }, null, 'SIGKILL', 'died'],
    ['exited with a code after serving', { state: 'ready', readyAt: 1, served: 10 }, 1, null, 'died'],
    ['said it could not boot', { state: 'starting', failure: 'app failed to load' }, 4, null, 'failed'],
    ['ended by the master for starttimeout=', { state: 'starting', failure: 'did not become ready' }, null, 'SIGKILL', 'failed'],
    ['exited before it was ready', { state: 'starting' }, 1, null, 'failed'],
    ['crashed (SIGSEGV) before it was ready', { state: 'starting' }, null, 'SIGSEGV', 'failed'],
    ['exited just after ready, having served nothing', { state: 'ready', readyAt: NOW - EARLY_DEATH_MS + 1 }, 1, null, 'early'],
    ['crashed just after ready, on its first request', { state: 'ready', readyAt: NOW - 10 }, null, 'SIGSEGV', 'early'],
    ['exited a while after ready, having served nothing', { state: 'ready', readyAt: NOW - EARLY_DEATH_MS - 1 }, 1, null, 'died'],
  ])('%s: %s', (_what, fields, code, signal, cause) => {
    expect(exitCause(slot(fields), code, signal, NOW)).toBe(cause);
  });
});

describe('back-off', () => {
  it('doubles per step up to the cap; failures of workers started before a step are within it', () => {
    const b = new Backoff();
    expect(b.failed(0, 1000)).toBe(500);
    expect(b.failed(0, 1001)).toBeNull();
    expect(b.failed(1500, 2000)).toBe(1000);
    expect(b.holdUntil).toBe(3000);
    let t = 3000;
    let last = 0;
    for (let i = 0; i < 10; i++, t += 100_000) last = b.failed(t, t + 10)!;
    expect(last).toBe(32_000);
    b.reset();
    expect(b.failed(t, t + 10)).toBe(500);
  });

  it('an early death is forgiven once; the next in a row counts as a failure, until a worker proves its code', () => {
    const b = new Backoff();
    expect(b.diedEarly()).toBe(false);
    expect(b.diedEarly()).toBe(true);
    expect(b.diedEarly()).toBe(true);
    b.reset();
    expect(b.diedEarly()).toBe(false);
  });
});
