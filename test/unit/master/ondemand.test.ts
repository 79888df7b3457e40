import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/shared/log.js';
import { OnDemand } from '../../../src/master/ondemand.js';
import type { RuntimeWorker } from '../../../src/master/runtime/types.js';
import { newSlot, type Slot } from '../../../src/master/slot.js';

const log = createLogger({}, 'silent');

function ready(id: number): Slot {
  const slot = newSlot(id, {} as RuntimeWorker);
  slot.state = 'ready';
  return slot;
}

describe('pm=ondemand idleness', () => {
  it('stops every worker once none has had a request for processidletimeout, and then starts none', () => {
    const od = new OnDemand(10, 0, log, () => {});
    const slots = [ready(1), ready(2)];
    expect(od.tick(slots, 0)).toEqual([]);
    expect(od.tick(slots, 9_999)).toEqual([]);
    expect(od.tick(slots, 10_000)).toEqual(slots);
    expect(od.sleeping).toBe(true);
  });

  it('a request served, or in progress, in any worker keeps the whole pool', () => {
    const od = new OnDemand(10, 0, log, () => {});
    const [a, b] = [ready(1), ready(2)];
    od.tick([a, b], 0);
    a.served = 1;
    expect(od.tick([a, b], 8_000)).toEqual([]);
    expect(od.tick([a, b], 17_000)).toEqual([]);
    b.active = 1;
    expect(od.tick([a, b], 30_000)).toEqual([]);
    b.active = 0;
    b.served = 1;
    expect(od.tick([a, b], 39_000)).toEqual([]);
    expect(od.tick([a, b], 48_999)).toEqual([]);
    expect(od.tick([a, b], 49_000)).toEqual([a, b]);
  });

  it('a worker still starting counts as activity', () => {
    const od = new OnDemand(1, 0, log, () => {});
    const starting = newSlot(1, {} as RuntimeWorker);
    expect(od.tick([starting], 0)).toEqual([]);
    expect(od.tick([starting], 5_000)).toEqual([]);
  });

  it('without a socket on fd 0-2 to watch (systemd before its copy arrived) the pool never sleeps', () => {
    const od = new OnDemand(1, 3, log, () => {});
    const slot = ready(1);
    od.tick([slot], 0);
    expect(od.tick([slot], 60_000)).toEqual([]);
  });
});
