// The master's loop against a fake WorkerRuntime: exit causes, back-off, reloads and their storms, TTIN/TTOU.

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { resolveOptions, type OptionInput } from '../../../src/config/options.js';
import { Master } from '../../../src/master/master.js';
import { MAX_BACKOFF_MS } from '../../../src/master/restart-policy.js';
import { SignalQueue, type StopSignal } from '../../../src/master/signals.js';
import type { Logger } from '../../../src/shared/log.js';
import { FakeRuntime, fakeListener, type FakeWorker } from '../../helpers/fake-runtime.js';

interface Line {
  level: string;
  fields: Record<string, unknown>;
  msg: string;
}

function recordingLogger(lines: Line[]): Logger {
  const at =
    (level: string) =>
    (a: unknown, b?: unknown): void => {
      if (typeof a === 'string') lines.push({ level, fields: {}, msg: a });
      else lines.push({ level, fields: a as Record<string, unknown>, msg: String(b) });
    };
  return { fatal: at('fatal'), error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug'), trace: at('trace'), silent: at('silent') } as unknown as Logger;
}

interface Harness {
  master: Master;
  runtime: FakeRuntime;
  lines: Line[];
  signal(name: StopSignal): Promise<void>;
  /** Lets the loop run for this long in fake time. */
  pass(ms: number): Promise<void>;
  /** Every running worker not yet ready says ready. */
  allReady(): Promise<void>;
  done: Promise<void>;
}

let signals: SignalQueue | undefined;

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
});
afterEach(() => {
  signals?.dispose();
  vi.useRealTimers();
});

function startMaster(input: OptionInput = {}): Harness {
  const runtime = new FakeRuntime();
  const lines: Line[] = [];
  signals = new SignalQueue([]);
  const q = signals;
  const options = resolveOptions({ socket: '/tmp/runfcgi-unit.sock', minspare: 2, maxspare: 2, maxchildren: 4, graceperiod: 1, ...input });
  const master = new Master(options, fakeListener(), runtime, recordingLogger(lines), q, { worker: { env: {} }, reopenLogs() {} });
  const readied = new Set<FakeWorker>();
  const h: Harness = {
    master,
    runtime,
    lines,
    done: master.run(),
    async signal(name) {
      q.push(name);
      await vi.advanceTimersByTimeAsync(1);
    },
    pass: (ms) => vi.advanceTimersByTimeAsync(ms).then(() => undefined),
    async allReady() {
      for (const w of runtime.running) {
        if (readied.has(w) || w.killed) continue;
        readied.add(w);
        w.ready();
      }
      await vi.advanceTimersByTimeAsync(1);
    },
  };
  h.done.catch(() => {});
  return h;
}

async function stopped(h: Harness): Promise<void> {
  await h.signal('SIGQUIT');
  await h.pass(5000);
  await h.done;
  expect(h.master.currentPhase).toBe('stopped');
}

const warnings = (h: Harness, text: string): Line[] => h.lines.filter((l) => l.level === 'warn' && l.msg.includes(text));

describe('master: the restart policy by cause', () => {
  it('a worker killed after it served is replaced at once, with no back-off', async () => {
    const h = startMaster();
    await h.allReady();
    expect(h.master.currentPhase).toBe('serving');
    for (let round = 0; round < 20; round++) {
      const victim = h.runtime.serving[0]!;
      victim.served = 50;
      await h.pass(3000);
      victim.exit(null, 'SIGKILL');
      // One turn of the loop, not a back-off: the pool is full again.
      await h.pass(1);
      expect(h.runtime.running).toHaveLength(2);
      await h.allReady();
    }
    expect(warnings(h, 'backing off')).toHaveLength(0);
    expect(warnings(h, 'worker died').filter((l) => l.fields.restart === 'at once')).toHaveLength(20);
    await stopped(h);
  });

  it('workers that fail before they are ready back off exponentially to tens of seconds, one log line per step', async () => {
    const h = startMaster();
    await h.allReady();
    h.runtime.code = 'broken';
    await h.signal('SIGHUP');
    const delays: number[] = [];
    let starts = 0;
    // 3 minutes of fake time: the fresh workers fail each time they start.
    for (let t = 0; t < 180_000; t += 100) {
      for (const w of h.runtime.running) {
        if (h.runtime.codeOf.get(w) !== 'broken' || w.killed) continue;
        starts++;
        w.say({ type: 'bootError', exitCode: 4, message: 'app=./app.js failed to load: SyntaxError' });
        w.exit(4, null);
      }
      await h.pass(100);
    }
    for (const l of warnings(h, 'backing off')) delays.push(l.fields.backoffMs as number);
    expect(delays.slice(0, 4)).toEqual([500, 1000, 2000, 4000]);
    expect(Math.max(...delays)).toBe(MAX_BACKOFF_MS);
    expect(MAX_BACKOFF_MS).toBeGreaterThanOrEqual(20_000);
    // Two workers per step (minspare=2), one line per step.
    expect(starts).toBe(2 * delays.length);
    expect(starts).toBeLessThan(40);
    // The old workers were never stopped: they serve the old code all along.
    const old = h.runtime.started.filter((w) => h.runtime.codeOf.get(w) === 'v1');
    expect(old.every((w) => w.state === 'running' && !w.killed && w.received.every((m) => m.type !== 'stop'))).toBe(true);
    expect(h.master.currentPhase).toBe('reloading');
    await stopped(h);
  });

  it('a worker that proves the code (ready for 2 s, or served) ends the back-off; being ready is not enough', async () => {
    const h = startMaster({ minspare: 1, maxspare: 1 });
    await h.allReady();
    h.runtime.code = 'broken';
    await h.signal('SIGHUP');
    for (let i = 0; i < 3; i++) {
      const w = h.runtime.running.find((x) => h.runtime.codeOf.get(x) === 'broken')!;
      w.exit(1, null);
      await h.pass(20_000);
    }
    expect(warnings(h, 'backing off').map((l) => l.fields.backoffMs)).toEqual([500, 1000, 2000]);
    // Ready, then dead at once (an app whose timer kills it): the first is replaced at once,
    // the second in a row backs off further; ready alone does not end the back-off.
    for (let i = 0; i < 2; i++) {
      const w = h.runtime.running.find((x) => h.runtime.codeOf.get(x) === 'broken')!;
      w.ready();
      await h.pass(100);
      w.exit(1, null);
      await h.pass(20_000);
    }
    expect(warnings(h, 'backing off').map((l) => l.fields.backoffMs)).toEqual([500, 1000, 2000, 4000]);
    // Fixed code: one of its workers serves for 2 s, and the back-off is over.
    h.runtime.code = 'v2';
    await h.signal('SIGHUP');
    await h.allReady();
    await h.pass(2500);
    const w = h.runtime.running.find((x) => h.runtime.codeOf.get(x) === 'v2')!;
    w.exit(null, 'SIGKILL');
    await h.pass(1);
    h.runtime.running.find((x) => x !== w && h.runtime.codeOf.get(x) === 'v2' && !x.killed && x.state === 'running' && x.received.length === 0)!.exit(1, null);
    await h.pass(1);
    expect(warnings(h, 'backing off').at(-1)?.fields.backoffMs).toBe(500);
    await stopped(h);
  });

  it('a worker that exits before any was ready fails the start', async () => {
    const h = startMaster();
    h.runtime.running[0]!.exit(7, null);
    await expect(h.done).rejects.toThrow(/worker 1 exited before it could serve \(code 7/);
    expect(h.master.currentPhase).toBe('failed');
  });
});

describe('master: reloads', () => {
  it('a reload stops each stale worker once a fresh one is ready, and only then', async () => {
    const h = startMaster();
    await h.allReady();
    const old = [...h.runtime.running];
    h.runtime.code = 'v2';
    await h.signal('SIGHUP');
    expect(h.runtime.running).toHaveLength(4);
    await h.pass(10_000);
    // No fresh worker ready yet: the old ones serve.
    expect(h.runtime.serving).toHaveLength(4);
    h.runtime.running.find((w) => h.runtime.codeOf.get(w) === 'v2')!.ready();
    await h.pass(1);
    expect(old.filter((w) => w.received.some((m) => m.type === 'stop'))).toHaveLength(1);
    await h.allReady();
    await h.pass(1);
    expect(h.runtime.running.map((w) => h.runtime.codeOf.get(w))).toEqual(['v2', 'v2']);
    expect(h.master.currentPhase).toBe('serving');
    await stopped(h);
  });

  it('a storm of HUPs restarts the reload with the newest code and never multiplies the pool', async () => {
    const h = startMaster();
    await h.allReady();
    let peak = 0;
    for (let i = 1; i <= 10; i++) {
      h.runtime.code = `v${i + 1}`;
      await h.signal('SIGHUP');
      await h.pass(300);
      peak = Math.max(peak, h.runtime.running.length);
    }
    await h.allReady();
    await h.pass(1000);
    // The pool (2) twice at most: the old generation serving while the newest starts.
    expect(peak).toBeLessThanOrEqual(4);
    expect(h.runtime.started.length).toBeLessThanOrEqual(2 + 10 * 2);
    expect(h.runtime.running.map((w) => h.runtime.codeOf.get(w))).toEqual(['v11', 'v11']);
    // The workers started for code in between were ended, not kept.
    const between = h.runtime.started.filter((w) => !['v1', 'v11'].includes(h.runtime.codeOf.get(w)!));
    expect(between.every((w) => w.killed)).toBe(true);
    expect(h.master.currentPhase).toBe('serving');
    await stopped(h);
  });

  it('a HUP after fresh workers are ready retires both older generations, oldest first', async () => {
    const h = startMaster();
    await h.allReady();
    h.runtime.code = 'v2';
    await h.signal('SIGHUP');
    // One v2 ready: one v1 leaves, one v1 still serves.
    h.runtime.running.find((w) => h.runtime.codeOf.get(w) === 'v2')!.ready();
    await h.pass(1);
    h.runtime.code = 'v3';
    await h.signal('SIGHUP');
    // The v2 still starting was ended; the pool is one v1, one v2 and two v3 starting.
    expect(h.runtime.running.map((w) => h.runtime.codeOf.get(w))).toEqual(['v1', 'v2', 'v3', 'v3']);
    await h.allReady();
    await h.pass(1);
    expect(h.runtime.running.map((w) => h.runtime.codeOf.get(w))).toEqual(['v3', 'v3']);
    await stopped(h);
  });
});

describe('master: SIGTTIN and SIGTTOU', () => {
  it('TTIN adds a spare worker up to maxchildren; TTOU takes one away down to one', async () => {
    const h = startMaster({ minspare: 1, maxspare: 1, maxchildren: 3 });
    await h.allReady();
    for (let i = 0; i < 5; i++) {
      await h.signal('SIGTTIN');
      await h.pass(300);
      await h.allReady();
    }
    expect(h.runtime.serving).toHaveLength(3);
    for (let i = 0; i < 5; i++) {
      await h.signal('SIGTTOU');
      await h.pass(300);
    }
    expect(h.runtime.serving).toHaveLength(1);
    await stopped(h);
  });
});

describe('master: stopping', () => {
  it('a graceful stop tells every worker to stop, closes the socket once they are gone, and ends the loop', async () => {
    const h = startMaster();
    await h.allReady();
    await h.signal('SIGINT');
    await h.pass(1000);
    await h.done;
    expect(h.runtime.running).toHaveLength(0);
    expect(h.runtime.started.every((w) => w.received.some((m) => m.type === 'stop' && m.graceMs === 1000))).toBe(true);
    expect(h.master.currentPhase).toBe('stopped');
  });
});
