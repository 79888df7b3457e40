// The framework fixture apps for the tests: built once (app-builds.mjs), and their own production servers.

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { killGroup, waitForListen } from './run.js';

export { builtApp } from './app-builds.mjs';

const APPS = path.resolve(import.meta.dirname, '../fixtures/apps');

/**
 * The least Node a fixture app's framework runs on: its package.json's
 * engines.node (">=22.17.0", the framework's own floor), or undefined when
 * the Node running the tests is recent enough.
 */
export function nodeTooOld(fixture: string): string | undefined {
  const pkg = JSON.parse(fs.readFileSync(path.join(APPS, fixture, 'package.json'), 'utf8')) as { engines?: { node?: string } };
  const least = /^>=(\d+)\.(\d+)\.(\d+)$/.exec(pkg.engines?.node ?? '>=0.0.0');
  if (!least) throw new Error(`test/fixtures/apps/${fixture}/package.json: engines.node must read >=X.Y.Z`);
  const have = process.versions.node.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const want = Number(least[i + 1]);
    if ((have[i] ?? 0) !== want) return (have[i] ?? 0) > want ? undefined : least[0].slice(2);
  }
  return undefined;
}

/**
 * The apps this Node can build and run; the others are left out with one
 * line each (CI runs the integration tests on Node 20 and on the newest).
 */
export function onThisNode<T extends { name: string; fixture: string }>(apps: T[]): T[] {
  return apps.filter((app) => {
    const least = nodeTooOld(app.fixture);
    if (least !== undefined) console.warn(`${app.name} is not tested on Node ${process.versions.node}: it needs Node ${least} or later (CI runs the integration tests on the newest Node too).`);
    return least === undefined;
  });
}

export interface OwnServer {
  port: number;
  output(): string;
  stop(): Promise<void>;
}

/** The framework's own production server (`cmd` in `dir`), on a free loopback port given in PORT. */
export async function startOwnServer(dir: string, args: string[], port: number, env: Record<string, string> = {}): Promise<OwnServer> {
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: dir,
    env: { ...process.env, NODE_ENV: 'production', NEXT_TELEMETRY_DISABLED: '1', PORT: String(port), HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    child.kill('SIGTERM');
    const late = setTimeout(() => killGroup(child.pid!), 5000);
    await exited;
    clearTimeout(late);
    killGroup(child.pid!);
  };
  await waitForListen(port, 60_000).catch(async (error: Error) => {
    await stop();
    throw new Error(`${args.join(' ')} did not start: ${error.message}\n${out}`);
  });
  return { port, output: () => out, stop };
}
