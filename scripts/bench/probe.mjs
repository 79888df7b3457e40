// What a health probe costs per run: `runfcgi ping`, `runfcgi status`, cgi-fcgi on ping=, and bare `node -e 0`,
// side by side in interleaved rounds; medians of wall time, CPU time (user + sys) and peak RSS, from GNU time.
// node scripts/bench/probe.mjs [rounds]   (needs /usr/bin/time and cgi-fcgi; run `npm run build` first)

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, waitForSocket } from './lib.mjs';

const ROUNDS = Number(process.argv[2] ?? 15);
const BIN = path.join(ROOT, 'bin/runfcgi');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runfcgi-probe-'));
const socket = path.join(dir, 'app.sock');
const server = spawn(process.execPath, [BIN, 'daemonize=false', `socket=${socket}`, 'ping=/ping', 'minspare=1', 'maxspare=1'], { stdio: 'ignore' });

const PEERS = {
  'runfcgi ping': [process.execPath, BIN, 'ping', `socket=${socket}`],
  'runfcgi status': [process.execPath, BIN, 'status', `socket=${socket}`],
  'cgi-fcgi (libfcgi-bin)': ['cgi-fcgi', '-bind', '-connect', socket],
  'node -e 0 (the floor)': [process.execPath, '-e', '0'],
};
const CGI_ENV = { ...process.env, REQUEST_METHOD: 'GET', SCRIPT_NAME: '/ping', REQUEST_URI: '/ping', SERVER_PROTOCOL: 'HTTP/1.1' };

function once(command) {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %U %S %M', ...command], { encoding: 'utf8', env: CGI_ENV, timeout: 60_000 });
  if (r.status !== 0) throw new Error(`${command.join(' ')} failed: ${r.stderr}`);
  const [wall, user, sys, rss] = r.stderr.trim().split('\n').at(-1).split(' ').map(Number);
  return { wallMs: wall * 1000, cpuMs: (user + sys) * 1000, rssMb: rss / 1024 };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

try {
  await waitForSocket(socket, 60_000);
  const samples = Object.fromEntries(Object.keys(PEERS).map((k) => [k, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, command] of Object.entries(PEERS)) samples[name].push(once(command));
  }
  console.log(`${ROUNDS} interleaved rounds, load average ${os.loadavg()[0].toFixed(1)} on ${os.availableParallelism()} cores`);
  console.log('probe'.padEnd(26) + 'wall ms'.padStart(9) + 'CPU ms'.padStart(9) + 'peak RSS MB'.padStart(13));
  for (const [name, runs] of Object.entries(samples)) {
    const m = (key) => median(runs.map((r) => r[key]));
    console.log(name.padEnd(26) + m('wallMs').toFixed(0).padStart(9) + m('cpuMs').toFixed(0).padStart(9) + m('rssMb').toFixed(1).padStart(13));
  }
} finally {
  server.kill('SIGINT');
  await new Promise((r) => server.once('exit', r));
  fs.rmSync(dir, { recursive: true, force: true });
}
