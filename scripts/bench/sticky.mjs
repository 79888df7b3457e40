#!/usr/bin/env node
// The cost of sticky=true: the (req, res) hello world and Hono's `/` on runfcgi (2 workers) behind nginx,
// without sticky, with sticky=true and no cookie (each answer sets one), and with a route cookie naming one
// worker (the requests nginx gives the other worker are handed over). Requests/s and app CPU per request
// (/proc, the app's processes), medians of interleaved rounds.
//   node scripts/bench/sticky.mjs [--rounds=5] [--seconds=5]     (npm run bench runs it too)

import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { FASTCGI, ROOT, WORK, cpuMs, median, startNginx, startProcess, waitForSocket, wrk } from './lib.mjs';

const PORT = Number(process.env.BENCH_PORT ?? 8091);
const BIN = path.join(ROOT, 'bin/runfcgi');
const PEERS_DIR = path.join(ROOT, 'scripts/bench/peers');
const SOCK = path.join(WORK, 'sticky.sock');
const APPS = { hello: path.join(PEERS_DIR, 'hello.mjs'), hono: path.join(PEERS_DIR, 'hono-app.mjs') };

/** name -> app, runfcgi's extra options, how wrk's requests carry a cookie. */
const PEERS = [];
for (const app of Object.keys(APPS)) {
  PEERS.push(
    [`${app}: sticky off`, app, [], 'none'],
    [`${app}: sticky off, a cookie sent`, app, [], 'other'],
    [`${app}: sticky=true, no cookie (each answer sets one)`, app, ['sticky=true'], 'none'],
    [`${app}: sticky=true, a route cookie (half handed over)`, app, ['sticky=true'], 'route'],
  );
}

function cookieScript(name, cookie) {
  const file = path.join(WORK, `${name}.lua`);
  fs.writeFileSync(file, `wrk.headers["Cookie"] = "${cookie}"\n`);
  return file;
}

async function routeCookie() {
  const res = await fetch(`http://127.0.0.1:${PORT}/`);
  await res.text();
  const line = res.headers.getSetCookie().find((c) => c.startsWith('runfcgi_route='));
  if (line === undefined) throw new Error('sticky=true set no route cookie');
  return line.split(';')[0];
}

async function measure(app, options, cookie, seconds) {
  fs.rmSync(SOCK, { force: true });
  const server = startProcess(process.execPath, [BIN, `app=${APPS[app]}`, `socket=${SOCK}`, 'minspare=2', 'maxspare=2', 'maxchildren=2', 'daemonize=false', 'umask=000', ...options]);
  try {
    await waitForSocket(SOCK);
    const nginx = await startNginx(PORT, `server unix:${SOCK};`, FASTCGI);
    try {
      let script;
      if (cookie === 'other') script = cookieScript('other', 'session=abcdef0123456789; theme=dark');
      if (cookie === 'route') script = cookieScript('route', `session=abcdef0123456789; ${await routeCookie()}`);
      const url = `http://127.0.0.1:${PORT}/`;
      wrk(url, { seconds: 1, script }); // warm-up
      const pids = server.pids();
      const before = cpuMs(pids);
      const r = wrk(url, { seconds, script });
      return { ...r, cpuUs: ((cpuMs(pids) - before) * 1000) / r.requests };
    } finally {
      await nginx.stop();
    }
  } finally {
    await server.stop();
  }
}

export async function stickyBench({ rounds = 5, seconds = 5, log = console.log } = {}) {
  fs.mkdirSync(WORK, { recursive: true });
  const runs = new Map(PEERS.map(([name]) => [name, []]));
  for (let round = 1; round <= rounds; round++) {
    for (const [name, app, options, cookie] of PEERS) {
      try {
        const r = await measure(app, options, cookie, seconds);
        runs.get(name).push(r);
        log(`round ${round} ${name.padEnd(56)} ${r.rps.toFixed(0).padStart(6)} req/s  ${r.cpuUs.toFixed(0).padStart(4)} us CPU/req  errors ${r.errors}`);
      } catch (error) {
        console.error(`${name}: ${String(error.message).split('\n')[0]}`);
      }
    }
  }
  const lines = ['| app, setting | req/s (median) | app CPU us/req (median) | req/s vs sticky off | CPU vs sticky off | all rounds req/s | errors |', '|---|---:|---:|---:|---:|---|---:|'];
  for (const [name, app] of PEERS) {
    const list = runs.get(name);
    const base = runs.get(`${app}: sticky off`);
    const rps = median(list.map((r) => r.rps));
    const cpu = median(list.map((r) => r.cpuUs));
    const baseRps = median(base.map((r) => r.rps));
    const baseCpu = median(base.map((r) => r.cpuUs));
    lines.push(`| ${name} | ${rps?.toFixed(0)} | ${cpu?.toFixed(1)} | ${(rps / baseRps).toFixed(2)}x | ${(cpu / baseCpu).toFixed(2)}x | ${list.map((r) => r.rps.toFixed(0)).join(', ')} | ${list.reduce((n, r) => n + r.errors, 0)} |`);
  }
  return lines.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const rounds = Number(args.find((a) => a.startsWith('--rounds='))?.slice(9) ?? 5);
  const seconds = Number(args.find((a) => a.startsWith('--seconds='))?.slice(10) ?? 5);
  const table = await stickyBench({ rounds, seconds });
  console.log(`\n## sticky=true behind nginx (wrk -t1 -c32 -d${seconds}s, 2 app workers, prefork, median of ${rounds} interleaved rounds)\n\n${table}`);
}
