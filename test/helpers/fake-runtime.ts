// A WorkerRuntime whose workers are plain objects the test drives (as gunicorn's tests stand in for os.fork).

import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import type { Listener } from '../../src/master/listener/bind.js';
import type { PassedHandle, RuntimeWorker, WorkerRuntime } from '../../src/master/runtime/types.js';
import { HEARTBEAT_MS, tag, type ToMaster, type ToWorker, type WorkerInit } from '../../src/shared/messages.js';

export class FakeWorker extends EventEmitter implements RuntimeWorker {
  readonly threadId = undefined;
  readonly received: ToWorker[] = [];
  state: 'running' | 'exited' = 'running';
  killed = false;
  /** Requests served, as its heartbeats say. */
  served = 0;
  private beat: ReturnType<typeof setInterval> | undefined;

  constructor(readonly id: number, readonly pid: number) {
    super();
  }

  send(message: ToWorker): void {
    this.received.push(message);
    // A stop is obeyed at once: no request is in progress in a fake.
    if (message.type === 'stop') queueMicrotask(() => this.exit(0, null));
  }

  kill(): void {
    this.killed = true;
    queueMicrotask(() => this.exit(null, 'SIGKILL'));
  }

  adopt(_socket: Socket): void {}

  /** Connections handed to this worker by the master (a leaving worker's kept-alive ones). */
  readonly passed: PassedHandle[] = [];

  pass(handle: PassedHandle): void {
    this.passed.push(handle);
  }

  say(message: Parameters<typeof tag<ToMaster>>[0]): void {
    this.emit('message', tag<ToMaster>(message));
  }

  /** Ready, then a heartbeat every HEARTBEAT_MS as a live event loop sends. */
  ready(): void {
    this.say({ type: 'ready' });
    this.beat = setInterval(() => this.say({ type: 'heartbeat', active: 0, served: this.served, lagMs: 0, slow: 0, timedOut: 0, aborted: 0, memory: 0 }), HEARTBEAT_MS);
  }

  exit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.state === 'exited') return;
    this.state = 'exited';
    clearInterval(this.beat);
    this.emit('exit', code, signal);
  }
}

/** Every worker ever started, in order; `running` those not exited. */
export class FakeRuntime implements WorkerRuntime {
  readonly name = 'prefork';
  readonly started: FakeWorker[] = [];
  /** Each start is with the app as it is now: what a fresh worker would load. */
  code = 'v1';
  readonly codeOf = new Map<FakeWorker, string>();

  spawn(init: WorkerInit): RuntimeWorker {
    const worker = new FakeWorker(init.id, 10_000 + init.id);
    this.started.push(worker);
    this.codeOf.set(worker, this.code);
    return worker;
  }

  get running(): FakeWorker[] {
    return this.started.filter((w) => w.state === 'running');
  }

  /** Those running that were not told to stop or killed. */
  get serving(): FakeWorker[] {
    return this.running.filter((w) => !w.killed && !w.received.some((m) => m.type === 'stop'));
  }
}

/** A listener that is only bookkeeping: the master never touches a socket through it here. */
export function fakeListener(): Listener & { closed: boolean } {
  const l = {
    fd: -1,
    address: 'unix:/nowhere.sock',
    inherited: false,
    canHandOver: false,
    closed: false,
    publish() {},
    announceHandover() {},
    takenOver: () => false,
    close() {
      l.closed = true;
    },
    cleanup() {},
  };
  return l as unknown as Listener & { closed: boolean };
}
