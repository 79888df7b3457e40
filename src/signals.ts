// Signal handlers only queue the signal; one loop takes them in order (as gunicorn's arbiter does).

export type StopSignal = 'SIGTERM' | 'SIGINT' | 'SIGQUIT' | 'SIGHUP' | 'SIGUSR1' | 'SIGTTIN' | 'SIGTTOU';

export class SignalQueue {
  private readonly queue: StopSignal[] = [];
  private wake: (() => void) | null = null;
  private readonly handlers = new Map<StopSignal, () => void>();

  /** Installs the handlers at once, so a signal that comes early is queued, not fatal. */
  constructor(signals: readonly StopSignal[]) {
    for (const signal of signals) {
      const handler = (): void => this.push(signal);
      this.handlers.set(signal, handler);
      process.on(signal, handler);
    }
  }

  push(signal: StopSignal): void {
    this.queue.push(signal);
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  /** The next signal, waiting for one if none is queued. */
  async next(): Promise<StopSignal> {
    while (this.queue.length === 0) {
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
    return this.queue.shift()!;
  }

  dispose(): void {
    for (const [signal, handler] of this.handlers) process.off(signal, handler);
    this.handlers.clear();
  }
}
