#!/usr/bin/env node
// Two builds of runfcgi side by side (this checkout against another, e.g. main): hello world through one nginx,
// in interleaved rounds; medians of requests/s and of the app's CPU time per request (all runfcgi processes, /proc).
//   node scripts/bench/builds.mjs OTHER_CHECKOUT [ROUNDS] [-- runfcgi options for both]
// Both checkouts must be built (`npm run build`). A guide for a change on the hot path, not a benchmark of record.

import fs from 'node:fs';
import path from 'node:path';
import { FASTCGI, ROOT, WORK, cpuMs, median, startNginx, startProcess, waitForSocket, wrk } from './lib.mjs';

const dash = process.argv.indexOf('--');
const positional = process.argv.slice(2, dash < 0 ? undefined : dash);
const extra = dash < 0 ? [] : process.argv.slice(dash + 1);
const [other, rounds = '5'] = positional;
if (other === undefined) {
  console.error('usage: node scripts/bench/builds.mjs OTHER_CHECKOUT [ROUNDS] [-- runfcgi options]');
  process.exit(2);
}
const BUILDS = { this: ROOT, other: path.resolve(other) };
for (const [name, dir] of Object.entries(BUILDS)) {
  if (!fs.existsSync(path.join(dir, 'dist/cli/main.js'))) throw new Error(`${name} (${dir}): no dist/, run npm run build there first`);
}
const PORT = 8093;
const SOCK = path.join(WORK, 'builds.sock');
const HELLO = path.join(ROOT, 'scripts/bench/peers/hello.mjs');
const SECONDS = 5;

/** One round of one build: its own runfcgi on SOCK behind the shared nginx; warm-up, then measured. */
async function measure(dir) {
  fs.rmSync(SOCK, { force: true });
  const args = [path.join(dir, 'bin/runfcgi'), `app=${HELLO}`, `socket=${SOCK}`, 'minspare=2', 'maxspare=2', 'maxchildren=2', 'daemonize=false', 'umask=000', ...extra];
  const server = startProcess(process.execPath, args);
  try {
    await waitForSocket(SOCK, 60_000);
    wrk(`http://127.0.0.1:${PORT}/`, { seconds: 1 });
    const pids = server.pids();
    const before = cpuMs(pids);
    const r = wrk(`http://127.0.0.1:${PORT}/`, { seconds: SECONDS });
    return { rps: r.rps, errors: r.errors, cpuUs: ((cpuMs(pids) - before) * 1000) / r.requests };
  } finally {
    await server.stop();
  }
}

fs.mkdirSync(WORK, { recursive: true });
const nginx = await startNginx(PORT, `server unix:${SOCK};`, FASTCGI);
const runs = { this: [], other: [] };
try {
  for (let i = 0; i < Number(rounds); i++) {
    // The order alternates, so neither build always runs on a machine just warmed (or loaded) by the other.
    const order = i % 2 === 0 ? ['this', 'other'] : ['other', 'this'];
    for (const name of order) {
      const r = await measure(BUILDS[name]);
      runs[name].push(r);
      console.log(`round ${i + 1} ${name}: ${Math.round(r.rps)} req/s, ${r.cpuUs.toFixed(1)} us CPU/request, ${r.errors} errors`);
    }
  }
} finally {
  await nginx.stop();
  fs.rmSync(SOCK, { force: true });
}
const summary = (name) => ({ rps: median(runs[name].map((r) => r.rps)), cpuUs: median(runs[name].map((r) => r.cpuUs)), errors: runs[name].reduce((a, r) => a + r.errors, 0) });
const a = summary('this');
const b = summary('other');
console.log(`options: ${extra.join(' ') || '(none)'}; ${rounds} rounds of ${SECONDS} s, 32 connections`);
console.log(`this  (${BUILDS.this}): median ${Math.round(a.rps)} req/s, ${a.cpuUs.toFixed(1)} us CPU/request, ${a.errors} errors`);
console.log(`other (${BUILDS.other}): median ${Math.round(b.rps)} req/s, ${b.cpuUs.toFixed(1)} us CPU/request, ${b.errors} errors`);
console.log(`this/other: ${(a.rps / b.rps).toFixed(3)}x req/s, ${(a.cpuUs / b.cpuUs).toFixed(3)}x CPU/request`);
