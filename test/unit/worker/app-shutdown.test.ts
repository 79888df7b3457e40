// The worker's signal handling (src/worker/app-shutdown.ts): its phases as a table, then each
// path through a real process, since signals and beforeExit belong to a whole process.

import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { onGroupSignal, type SigtermPhase } from '../../../src/worker/app-shutdown.js';
import { FIXTURES } from '../../helpers/run.js';
import { waitFor } from '../../helpers/load.js';

describe('the SIGTERM phases', () => {
  const GROUP = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'];

  it('while holding, no group signal reaches the app and none ends the wait', () => {
    for (const signal of GROUP) expect(onGroupSignal('holding', signal)).toEqual({ toApp: false, next: 'holding', appDone: false });
  });

  it('our own SIGTERM reaches the app once; other signals meanwhile stay held', () => {
    expect(onGroupSignal('sending', 'SIGTERM')).toEqual({ toApp: true, next: 'heard', appDone: false });
    for (const signal of ['SIGINT', 'SIGHUP', 'SIGQUIT']) expect(onGroupSignal('sending', signal)).toEqual({ toApp: false, next: 'sending', appDone: false });
  });

  it('a SIGTERM after the app heard one is the app raising it again: held, and its cleanup is done', () => {
    expect(onGroupSignal('heard', 'SIGTERM')).toEqual({ toApp: false, next: 'heard', appDone: true });
    expect(onGroupSignal('heard', 'SIGINT')).toEqual({ toApp: false, next: 'heard', appDone: false });
  });

  it('in no phase does the app hear a signal twice', () => {
    const phases: SigtermPhase[] = ['holding', 'sending', 'heard'];
    for (const start of phases) {
      let phase = start;
      let heard = 0;
      for (let i = 0; i < 4; i++) {
        const step = onGroupSignal(phase, 'SIGTERM');
        if (step.toApp) heard++;
        phase = step.next;
      }
      expect(heard).toBeLessThanOrEqual(1);
    }
  });
});

/** Runs one scenario of the driver: signals the group would get first, then "go"; the lines it printed and its exit. */
async function drive(scenario: string, before: NodeJS.Signals[] = []): Promise<{ lines: string[]; code: number | null }> {
  const child = spawn(process.execPath, [path.join(FIXTURES, 'app-shutdown-driver.mjs'), scenario], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const lines = (): string[] => out.split('\n').filter((l) => l !== '');
  try {
    await waitFor(() => lines().includes('ready'), 60_000, `${scenario}: ready`);
    for (const [i, signal] of before.entries()) {
      child.kill(signal);
      // The driver answers SIGWINCH with 'pong': by then it has dispatched the signal before it.
      child.kill('SIGWINCH');
      await waitFor(() => lines().filter((l) => l === 'pong').length > i, 60_000, `${scenario}: ${signal} dispatched`);
    }
    child.stdin.write('go\n');
    const code = await exited;
    return { lines: lines(), code };
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

describe('appShutdown in a worker process', () => {
  it('holds the signals a terminal sends the whole group, then sends the app SIGTERM once when asked', async () => {
    const { lines, code } = await drive('signal-ends', ['SIGINT', 'SIGTERM', 'SIGHUP']);
    expect(lines).toEqual(['ready', 'pong', 'pong', 'pong', 'go', 'release', 'app heard SIGTERM', 'log debug: the app\'s shutdown hooks ran', 'resolved']);
    expect(code).toBe(0);
  });

  it('calls close() first, then sends SIGTERM', async () => {
    const { lines } = await drive('close-then-signal');
    expect(lines).toEqual(['ready', 'go', 'close', 'release', 'app heard SIGTERM', 'log debug: the app\'s shutdown hooks ran', 'resolved']);
  });

  it('logs a close() that throws and still sends SIGTERM', async () => {
    const { lines } = await drive('close-throws');
    expect(lines).toEqual(['ready', 'go', 'log error: the app\'s close() failed', 'release', 'app heard SIGTERM', 'log debug: the app\'s shutdown hooks ran', 'resolved']);
  });

  it('ends the wait when the app raises SIGTERM again (NestJS), although its timer still runs', async () => {
    const { lines, code } = await drive('raised-again');
    expect(lines).toEqual(['ready', 'go', 'release', 'app heard SIGTERM', 'log debug: the app\'s shutdown hooks ran', 'resolved']);
    expect(code).toBe(0);
  });

  it('gives up at the limit on an app that never finishes, and says so', async () => {
    const { lines, code } = await drive('hangs');
    expect(lines).toEqual(['ready', 'go', 'release', 'app heard SIGTERM', 'log warn: the app\'s SIGTERM listeners did not finish within graceperiod: ending the worker anyway', 'resolved']);
    expect(code).toBe(0);
  });

  it('with no time left (limit 0), runs no hook and says so', async () => {
    const { lines } = await drive('limit-zero');
    expect(lines).toEqual(['ready', 'go', 'log info: stopping now: the app\'s shutdown hooks do not run', 'resolved']);
  });

  it('sends nothing to an app without hooks', async () => {
    const { lines } = await drive('no-hooks');
    expect(lines).toEqual(['ready', 'go', 'resolved']);
  });
});
