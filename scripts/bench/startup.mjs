#!/usr/bin/env node
// Start to first answer, as `npm run bench` measures it, for several builds side by side.
//   node scripts/bench/startup.mjs [--runs=7] [--mode=fg,daemon] [NAME=PATH/TO/bin/runfcgi ...]
// Without builds, this checkout's bin/runfcgi. Runs are interleaved (build A, build B, A, B, ...)
// so that a busy moment of the machine hits every build alike; prints each run and the medians,
// with the CPU time the master and its workers had used by the first answer (the daemon's launcher not counted).

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, WORK, median, sleep, startProcess, tree } from './lib.mjs';

const args = process.argv.slice(2);
const RUNS = Number(args.find((a) => a.startsWith('--runs='))?.slice(7) ?? 7);
const MODES = (args.find((a) => a.startsWith('--mode='))?.slice(7) ?? 'fg,daemon').split(',');
const named = args.filter((a) => !a.startsWith('--')).map((a) => a.split('='));
const BUILDS = named.length > 0 ? named : [['this', path.join(ROOT, 'bin/runfcgi')]];
const HELLO = path.join(ROOT, 'scripts/bench/peers/hello.mjs');
const SOCK = path.join(WORK, 'startup.sock');
const PIDFILE = path.join(WORK, 'startup.pid');

fs.mkdirSync(WORK, { recursive: true });

/** cgi-fcgi every 5 ms until the hello app answers, as run.mjs does. */
async function firstAnswer() {
  for (;;) {
    const r = spawnSync('cgi-fcgi', ['-bind', '-connect', SOCK], { env: { REQUEST_METHOD: 'GET', REQUEST_URI: '/' }, encoding: 'utf8' });
    if (r.stdout.includes('Hello')) return;
    await sleep(5);
  }
}

/** CPU time (ms) spent so far by `root` and its descendants, from /proc/PID/schedstat (ns on a CPU). */
function cpuMs(root) {
  let ns = 0;
  for (const pid of tree(root)) {
    try {
      ns += Number(fs.readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {}
  }
  return ns / 1e6;
}

async function once(bin, mode) {
  fs.rmSync(SOCK, { force: true });
  fs.rmSync(PIDFILE, { force: true });
  const t0 = performance.now();
  let server;
  let launcherMs;
  if (mode === 'daemon') {
    const r = spawnSync(process.execPath, [bin, `app=${HELLO}`, `socket=${SOCK}`, `pidfile=${PIDFILE}`], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`daemon start failed: ${r.stderr}`);
    launcherMs = performance.now() - t0;
    // The contract: the pidfile is there once the launcher returns.
    if (!fs.existsSync(PIDFILE)) throw new Error('launcher returned before the pidfile was written');
  } else {
    server = startProcess(process.execPath, [bin, `app=${HELLO}`, `socket=${SOCK}`, 'daemonize=false']);
  }
  await firstAnswer();
  const ms = performance.now() - t0;
  const master = mode === 'daemon' ? Number(fs.readFileSync(PIDFILE, 'utf8')) : server.child.pid;
  const cpu = cpuMs(master);
  if (mode === 'daemon') {
    process.kill(master, 'SIGQUIT');
    while (fs.existsSync(PIDFILE)) await sleep(20);
  } else {
    await server.stop();
  }
  return { ms, launcherMs, cpu };
}

const results = new Map();
for (let run = 0; run < RUNS; run++) {
  for (const mode of MODES) {
    for (const [name, bin] of BUILDS) {
      const r = await once(bin, mode);
      const key = `${name} ${mode}`;
      if (!results.has(key)) results.set(key, []);
      results.get(key).push(r);
      const launcher = r.launcherMs ? `, launcher returned at ${r.launcherMs.toFixed(0)} ms` : '';
      console.log(`run ${run + 1} ${key.padEnd(20)} ${r.ms.toFixed(0).padStart(5)} ms (master and workers: ${r.cpu.toFixed(0)} ms CPU${launcher})`);
    }
  }
}
console.log('');
for (const [key, list] of results) {
  const all = list.map((r) => r.ms);
  const cpu = median(list.map((r) => r.cpu));
  console.log(`${key.padEnd(20)} median ${median(all).toFixed(0).padStart(5)} ms (CPU ${cpu.toFixed(0)} ms)   runs: ${all.map((x) => x.toFixed(0)).join(', ')}`);
}
