// Signal handlers only queue the signal; the master's loop takes them in order (as gunicorn's arbiter does).

export type StopSignal = 'SIGTERM' | 'SIGINT' | 'SIGQUIT' | 'SIGHUP' | 'SIGUSR1' | 'SIGTTIN' | 'SIGTTOU';

export class SignalQueue {
  private readonly queue: StopSignal[] = [];
  private waiter: (() => void) | null = null;
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
    this.wake();
  }

  /**
   * The next signal; waits for one, for at most `timeoutMs`, or until
   * wake(). Resolves null when none came.
   */
  async next(timeoutMs: number): Promise<StopSignal | null> {
    if (this.queue.length === 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = null;
    }
    return this.queue.shift() ?? null;
  }

  /** Ends the current wait early: something besides a signal needs the loop. */
  wake(): void {
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.();
  }

  dispose(): void {
    for (const [signal, handler] of this.handlers) process.off(signal, handler);
    this.handlers.clear();
  }
}
