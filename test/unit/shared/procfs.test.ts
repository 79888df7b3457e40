import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isAlive } from '../../../src/shared/procfs.js';

describe('isAlive', () => {
  it('is true for a running process and false for a pid that is gone', () => {
    expect(isAlive(process.pid)).toBe(true);
    // Beyond pid_max on Linux (4194304 at most): never a process.
    expect(isAlive(4_194_305)).toBe(false);
  });

  it('is false for a zombie: `runfcgi stop` must not wait for a master that has exited but was not reaped', async () => {
    // sh starts a child that exits soon, then becomes `sleep 30`, which never reaps it.
    const parent = spawn('/bin/sh', ['-c', 'sleep 0.3 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const zombie = Number(await new Promise<string>((resolve) => parent.stdout.once('data', (d: Buffer) => resolve(d.toString()))));
      // It is a zombie once `true` has exited: wait for that state (bounded).
      let state = '';
      for (let i = 0; i < 200 && state !== 'Z'; i++) {
        await new Promise((r) => setTimeout(r, 25));
        const stat = fs.readFileSync(`/proc/${zombie}/stat`, 'utf8');
        state = stat.slice(stat.lastIndexOf(') ') + 2, stat.lastIndexOf(') ') + 3);
      }
      expect(state).toBe('Z');
      expect(isAlive(zombie)).toBe(false);
    } finally {
      parent.kill('SIGKILL');
    }
  });
});
