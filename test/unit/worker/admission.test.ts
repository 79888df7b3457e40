import { afterEach, describe, expect, it } from 'vitest';
import { Admission, type Admitted } from '../../../src/worker/admission.js';
import { createLogger } from '../../../src/shared/log.js';

const log = createLogger({}, 'silent');

class Conn implements Admitted {
  lastInput = performance.now();
  activeRequests = 0;
  waiting = false;
  destroyed = false;
  waitingForInput(): boolean {
    return this.waiting;
  }
  destroy(): void {
    this.destroyed = true;
  }
}

let admission: Admission | undefined;
afterEach(() => admission?.stop());

function full(max: number): { a: Admission; conns: Conn[] } {
  const a = (admission = new Admission(max, 0, log));
  const conns = Array.from({ length: max }, () => {
    expect(a.admit()).toBe(true);
    const c = new Conn();
    a.add(c);
    return c;
  });
  return { a, conns };
}

describe('admission: a full worker', () => {
  it('sheds the oldest connection that has not begun a request, not the newest', () => {
    const { a, conns } = full(3);
    a.began(conns[0]!);
    expect(a.admit()).toBe(true);
    expect(conns.map((c) => c.destroyed)).toEqual([false, true, false]);
  });

  it('sheds one that stopped in the middle of a request only when every one has begun a request', () => {
    const { a, conns } = full(3);
    for (const c of conns) a.began(c);
    conns[2]!.waiting = true;
    expect(a.admit()).toBe(true);
    expect(conns.map((c) => c.destroyed)).toEqual([false, false, true]);
  });

  it('refuses the new connection when every one is busy with a whole request', () => {
    const { a, conns } = full(3);
    for (const c of conns) a.began(c);
    expect(a.admit()).toBe(false);
    expect(conns.some((c) => c.destroyed)).toBe(false);
  });

  it('admits again once a connection has closed', () => {
    const { a, conns } = full(2);
    for (const c of conns) a.began(c);
    a.remove(conns[0]!);
    expect(a.admit()).toBe(true);
  });
});

describe('admission: firstbytetimeout=', () => {
  it('closes connections silent past the limit, and keeps those that sent a byte or began a request', () => {
    const a = (admission = new Admission(100, 1000, log));
    const [silent, spoke, served] = [new Conn(), new Conn(), new Conn()];
    const t0 = performance.now();
    a.add(silent);
    a.add(spoke);
    a.add(served);
    spoke.lastInput = t0 + 5_000;
    a.began(served);
    a.sweep(t0 + 900);
    expect(silent.destroyed).toBe(false);
    a.sweep(t0 + 1_500);
    expect([silent, spoke, served].map((c) => c.destroyed)).toEqual([true, false, false]);
  });
});
