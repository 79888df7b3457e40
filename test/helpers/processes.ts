// What /proc tells about the processes a test started: alive, their children, the pid in a pidfile.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

/** Alive and not a zombie. */
export function running(pid: number): boolean {
  try {
    return !fs.readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
}

/** The live children of `pid` (a master's worker processes). */
export function children(pid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number).filter(running);
  } catch {
    return [];
  }
}

export function readPid(file: string): number {
  return Number(fs.readFileSync(file, 'utf8').trim());
}

/** Live processes whose environment carries RUNFCGI_TEST_TAG=tag (daemons and workers inherit it). */
export function tagged(tag: string): number[] {
  const found: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/environ`, 'latin1').includes(`RUNFCGI_TEST_TAG=${tag}\0`) && running(Number(entry))) found.push(Number(entry));
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}
