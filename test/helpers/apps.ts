// The framework fixture apps for the tests: built once (app-builds.mjs), and their own production servers.

import { spawn, type ChildProcess } from 'node:child_process';
import { killGroup, waitForListen } from './run.js';

export { builtApp } from './app-builds.mjs';

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
