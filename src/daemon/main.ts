// The daemon's entry: run the master with the launcher's options, and tell the launcher how it went.

import { DAEMON_ENV, HELD_ENV, type DaemonReport } from './launcher.js';
import { EXIT_RUNTIME, RunfcgiError } from '../shared/errors.js';
import type { Options } from '../config/options.js';
import { startMaster } from '../master/start.js';

function report(message: DaemonReport): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    process.send(message, () => resolve());
  });
}

const options = JSON.parse(process.env[DAEMON_ENV] ?? '{}') as Options;
delete process.env[DAEMON_ENV];
// What the launcher started us without, for a faster boot: the workers get it from process.env.
Object.assign(process.env, JSON.parse(process.env[HELD_ENV] ?? '{}') as Record<string, string>);
delete process.env[HELD_ENV];

startMaster(options, {
  onReady: () => {
    void report({ runfcgi: 1, type: 'daemon-ready' }).then(() => {
      if (process.connected) process.disconnect();
    });
  },
}).then(
  () => process.exit(0),
  async (error: unknown) => {
    const exitCode = error instanceof RunfcgiError ? error.exitCode : EXIT_RUNTIME;
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`runfcgi: ${message}\n`);
    await report({ runfcgi: 1, type: 'daemon-failed', exitCode, message });
    process.exit(exitCode);
  },
);
