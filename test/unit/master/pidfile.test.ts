// Which process holding a pidfile counts as a live runfcgi: by its master's title or launcher, not by a path.

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Logger } from '../../../src/shared/log.js';
import { Pidfile } from '../../../src/master/pidfile.js';
import { runfcgiMaster } from '../../../src/shared/procfs.js';
import { waitFor } from '../../helpers/load.js';

const silent = { fatal() {}, error() {}, warn() {}, info() {}, debug() {}, trace() {} } as unknown as Logger;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runfcgi-pidfile-'));
const children: ChildProcess[] = [];

/** A Node process that sets `title` (unless null) and waits, with `args` after its script. */
function idle(title: string | null, ...args: string[]): ChildProcess {
  const script = title === null ? 'setInterval(() => {}, 1000)' : `process.title = ${JSON.stringify(title)}; setInterval(() => {}, 1000)`;
  const child = spawn(process.execPath, ['-e', script, ...args], { stdio: 'ignore' });
  children.push(child);
  return child;
}

function titleOf(pid: number): string {
  return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
}

afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

describe('which process is a live runfcgi master', () => {
  it('a process that merely has "runfcgi" in a path of its command line is not', async () => {
    const other = idle(null, '/var/cache/runfcgi-ci/npm/_cacache', '/home/me/src/runfcgi/dist/cli.js');
    await waitFor(() => titleOf(other.pid!).includes('_cacache'), 10_000, 'the process to start');
    expect(runfcgiMaster(other.pid!)).toBe(null);
  });

  it('a master is known by its title, serving or stopping', async () => {
    const serving = idle('runfcgi: master', 'x'.repeat(40));
    const stopping = idle('runfcgi: master (stopping)', 'x'.repeat(40));
    await waitFor(() => titleOf(serving.pid!).startsWith('runfcgi: master') && titleOf(stopping.pid!).startsWith('runfcgi: master'), 10_000, 'the titles');
    expect(runfcgiMaster(serving.pid!)).toBe('serving');
    expect(runfcgiMaster(stopping.pid!)).toBe('stopping');
  });

  it('a master whose title could not be set is known by its launcher, bin/runfcgi', async () => {
    fs.mkdirSync(path.join(dir, 'bin'), { recursive: true });
    const launcher = path.join(dir, 'bin', 'runfcgi');
    fs.writeFileSync(launcher, 'setInterval(() => {}, 1000);\n');
    const child = spawn(process.execPath, [launcher], { stdio: 'ignore' });
    children.push(child);
    await waitFor(() => titleOf(child.pid!).includes('bin/runfcgi'), 10_000, 'the process to start');
    expect(runfcgiMaster(child.pid!)).toBe('serving');
  });

  it('a pidfile held by a process with "runfcgi" in a path is stale: a start replaces it', async () => {
    const other = idle(null, '/var/cache/runfcgi-ci/x');
    await waitFor(() => titleOf(other.pid!).includes('runfcgi-ci'), 10_000, 'the process to start');
    const file = path.join(dir, 'stale.pid');
    fs.writeFileSync(file, `${other.pid}\n`);
    const pidfile = new Pidfile(file, silent);
    await expect(pidfile.claim()).resolves.toBeUndefined();
    await pidfile.unlock();
  });

  it('a pidfile held by a serving master is refused; one held by a stopping master is not', async () => {
    const serving = idle('runfcgi: master', 'x'.repeat(40));
    const stopping = idle('runfcgi: master (stopping)', 'x'.repeat(40));
    await waitFor(() => titleOf(serving.pid!).startsWith('runfcgi: master') && titleOf(stopping.pid!).startsWith('runfcgi: master'), 10_000, 'the titles');
    const file = path.join(dir, 'live.pid');
    fs.writeFileSync(file, `${serving.pid}\n`);
    await expect(new Pidfile(file, silent).claim()).rejects.toThrow(`runfcgi is already running as pid ${serving.pid}`);
    fs.writeFileSync(file, `${stopping.pid}\n`);
    const pidfile = new Pidfile(file, silent);
    await expect(pidfile.claim()).resolves.toBeUndefined();
    await pidfile.unlock();
  });
});
