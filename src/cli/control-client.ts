// `runfcgi status`, `reload` and `stop`: find the master that pidfile= or socket= names, ask it over
// its control socket, or signal it and wait for the result.

import fs from 'node:fs';
import net from 'node:net';
import { EXIT_OK, EXIT_RUNTIME, RunfcgiError, UsageError } from '../shared/errors.js';
import { controlPath, type ControlReport } from '../master/control.js';
import { parseArgs } from './args.js';
import { resolveOptions, type Options } from '../config/options.js';
import { isAlive, runfcgiMaster } from '../shared/procfs.js';
import { renderPoolTable } from './pool-table.js';

export type ControlCommand = 'status' | 'reload' | 'stop';

interface Flags {
  json: boolean;
  watch: boolean;
}

/** The flags of these commands, and the start's own options (only pidfile= and socket= matter). */
function parse(command: ControlCommand, argv: readonly string[]): { flags: Flags; options: Options } {
  const flags: Flags = { json: false, watch: false };
  const rest: string[] = [];
  for (const word of argv) {
    if (command === 'status' && (word === '--json' || word === '--watch')) flags[word === '--json' ? 'json' : 'watch'] = true;
    else rest.push(word);
  }
  const input = parseArgs(rest);
  if (input === 'help') throw new UsageError(`runfcgi ${command} takes pidfile= or socket=, as the server was started`);
  const options = resolveOptions(input);
  if (options.pidfile === undefined && options.socket === undefined) {
    throw new UsageError(`runfcgi ${command} needs pidfile= or socket=, as the server was started (runfcgi ${command} pidfile=/run/mysite.pid)`);
  }
  return { flags, options };
}

/** Nothing runs where the options point, or it cannot be reached: the message says which. */
class NotReached extends RunfcgiError {}

/** The pid in the pidfile, if a live runfcgi holds it; a clear error otherwise. */
function pidFromFile(file: string): number {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new NotReached(`nothing runs with pidfile=${file}: the file does not exist`);
    throw new NotReached(`cannot read pidfile=${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const pid = Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 0) throw new NotReached(`pidfile=${file} holds no pid: nothing runs there`);
  if (!isAlive(pid)) throw new NotReached(`pidfile=${file} is stale: process ${pid} is gone (nothing runs; the file can be removed)`);
  if (runfcgiMaster(pid) === null) throw new NotReached(`pidfile=${file} is stale: process ${pid} is not runfcgi (nothing runs; the file can be removed)`);
  return pid;
}

/** Asks one control socket; undefined when nothing answers there. */
function ask(path: string): Promise<ControlReport | undefined> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(path);
    let text = '';
    socket.setEncoding('utf8');
    socket.setTimeout(5000, () => socket.destroy(new Error('the master did not answer within 5 s')));
    socket.on('connect', () => socket.write('status\n'));
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('end', () => {
      try {
        resolve(JSON.parse(text) as ControlReport);
      } catch {
        reject(new NotReached(`${path} gave no status: is it runfcgi's control socket?`));
      }
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT' || error.code === 'ECONNREFUSED') return resolve(undefined);
      if (error.code === 'EACCES' || error.code === 'EPERM') {
        const owner = fs.statSync(path, { throwIfNoEntry: false })?.uid;
        return reject(new NotReached(`cannot open ${path}: permission denied; only the user the master runs as (uid ${owner}) may: run this as that user`));
      }
      reject(new NotReached(`cannot reach ${path}: ${error.code ?? error.message}`));
    });
  });
}

/** The running master's status, or a NotReached that says why there is none. */
export async function reach(options: Pick<Options, 'pidfile' | 'socket'>): Promise<ControlReport> {
  const pid = options.pidfile === undefined ? undefined : pidFromFile(options.pidfile);
  const files = [options.pidfile, options.socket].filter((f) => f !== undefined);
  for (const file of files) {
    const status = await ask(controlPath(file));
    if (status !== undefined) return status;
  }
  if (pid !== undefined) throw new NotReached(`runfcgi runs as pid ${pid} (pidfile=${options.pidfile}) but answers on no control socket (${files.map(controlPath).join(', ')})`);
  const socket = options.socket!;
  const left = fs.existsSync(socket) ? ' (a socket file is left there)' : '';
  throw new NotReached(`nothing runs at socket=${socket}${left}`);
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new NotReached(code === 'EPERM' ? `not allowed to signal runfcgi (pid ${pid}): run this as the user it runs as` : `cannot signal pid ${pid}: ${code}`);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function watch(options: Options, json: boolean): Promise<number> {
  let stopped = false;
  process.once('SIGINT', () => (stopped = true));
  while (!stopped) {
    let text: string;
    try {
      const status = await reach(options);
      text = json ? `${JSON.stringify(status)}\n` : renderPoolTable(status);
    } catch (error) {
      text = `${(error as Error).message}\n`;
    }
    if (process.stdout.isTTY && !json) process.stdout.write('\x1b[H\x1b[2J');
    process.stdout.write(json ? text : `${text}\n(every second; Ctrl+C to stop)\n`);
    for (let i = 0; i < 10 && !stopped; i++) await sleep(100);
  }
  return EXIT_OK;
}

/** HUP, then wait until no worker from before serves (or the pool sleeps: nothing to replace). */
async function reload(options: Options): Promise<number> {
  const before = await reach(options);
  const old = new Set((before.workers ?? []).map((w) => w.id));
  signal(before.pid, 'SIGHUP');
  const deadline = Date.now() + (options.graceperiod + 30) * 1000;
  for (;;) {
    const now = await reach(options);
    const workers = now.workers ?? [];
    const left = workers.filter((w) => old.has(w.id));
    if (old.size === 0 || (left.length === 0 && workers.some((w) => w.state === 'ready'))) {
      const fresh = workers.map((w) => w.id);
      process.stdout.write(old.size === 0 ? `runfcgi (pid ${before.pid}) reloaded: no worker ran; the next one loads the new code\n` : `runfcgi (pid ${before.pid}) reloaded: workers ${fresh.join(', ')} replace ${[...old].join(', ')}\n`);
      return EXIT_OK;
    }
    if (Date.now() > deadline) {
      process.stderr.write(`runfcgi: reload of pid ${before.pid} not done after ${options.graceperiod + 30} s: workers ${left.map((w) => w.id).join(', ')} from before still serve (see the log: do new workers fail to start?)\n`);
      return EXIT_RUNTIME;
    }
    await sleep(100);
  }
}

/**
 * INT, then wait until the master is gone (it lets requests in progress
 * finish for graceperiod=). INT, not TERM: as graceful, without TERM's wait
 * for a successor master to take the socket over, since none is coming.
 */
async function stop(options: Options): Promise<number> {
  const { pid } = await reach(options);
  signal(pid, 'SIGINT');
  const limit = options.graceperiod + 15;
  const deadline = Date.now() + limit * 1000;
  while (isAlive(pid)) {
    if (Date.now() > deadline) {
      process.stderr.write(`runfcgi: pid ${pid} still runs ${limit} s after INT\n`);
      return EXIT_RUNTIME;
    }
    await sleep(50);
  }
  process.stdout.write(`runfcgi (pid ${pid}) stopped\n`);
  return EXIT_OK;
}

/** Runs a control command; resolves to the exit code. */
export async function runControl(command: ControlCommand, argv: readonly string[]): Promise<number> {
  const { flags, options } = parse(command, argv);
  if (command === 'reload') return reload(options);
  if (command === 'stop') return stop(options);
  if (flags.watch) {
    // The first look says at once when nothing runs there.
    await reach(options);
    return watch(options, flags.json);
  }
  const status = await reach(options);
  process.stdout.write(flags.json ? `${JSON.stringify(status, null, 2)}\n` : renderPoolTable(status));
  return EXIT_OK;
}
