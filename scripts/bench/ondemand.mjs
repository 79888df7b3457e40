#!/usr/bin/env node
// Workers on demand (pm=ondemand): idle memory beside today's pool, and the first answer's
// latency from idle (the connection that wakes the pool waits for a worker's start).
//   node scripts/bench/ondemand.mjs [--rounds=5]     (npm run bench includes it)

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, WORK, median, memory, sleep, startProcess, waitForSocket } from './lib.mjs';

const BIN = path.join(ROOT, 'bin/runfcgi');
const SOCK = path.join(WORK, 'ondemand.sock');
const APPS = [
  ['hello', path.join(ROOT, 'scripts/bench/peers/hello.mjs')],
  ['Express', path.join(ROOT, 'test/fixtures/express-app.mjs')],
];

/** One request over FastCGI with cgi-fcgi; its wall time in ms. */
function request() {
  const t0 = performance.now();
  const r = spawnSync('cgi-fcgi', ['-bind', '-connect', SOCK], { env: { REQUEST_METHOD: 'GET', REQUEST_URI: '/', SCRIPT_NAME: '' }, encoding: 'utf8' });
  if (!/Status: 200|Content-Type/i.test(r.stdout)) throw new Error(`no answer: ${r.stdout.slice(0, 200)} ${r.stderr}`);
  return performance.now() - t0;
}

function status() {
  const r = spawnSync(process.execPath, [BIN, 'status', '--json', `socket=${SOCK}`], { encoding: 'utf8' });
  return r.status === 0 ? JSON.parse(r.stdout) : undefined;
}

async function asleep() {
  for (let i = 0; i < 400; i++) {
    if (status()?.asleep) return;
    await sleep(50);
  }
  throw new Error('the pool did not go to sleep');
}

async function measure(method, app, rounds) {
  fs.rmSync(SOCK, { force: true });
  const today = startProcess(process.execPath, [BIN, `app=${app}`, `socket=${SOCK}`, `method=${method}`, 'minspare=2', 'maxspare=2', 'daemonize=false']);
  await waitForSocket(SOCK);
  request();
  await sleep(1500);
  const dynamicRss = memory(today.pids(), 'VmRSS');
  await today.stop();

  fs.rmSync(SOCK, { force: true });
  const server = startProcess(process.execPath, [BIN, `app=${app}`, `socket=${SOCK}`, `method=${method}`, 'pm=ondemand', 'processidletimeout=1', 'daemonize=false']);
  await waitForSocket(SOCK);
  await asleep();
  await sleep(500);
  const idleRss = memory(server.pids(), 'VmRSS');
  const latencies = [];
  for (let i = 0; i < rounds; i++) {
    await asleep();
    latencies.push(request());
  }
  await server.stop();
  return { dynamicRss, idleRss, latency: median(latencies), all: latencies };
}

export async function onDemand(rounds = 5) {
  const rows = [];
  for (const [appName, app] of APPS) {
    for (const method of ['prefork', 'threaded']) {
      const r = await measure(method, app, rounds);
      console.log(`pm=ondemand ${appName} ${method}: idle ${r.dynamicRss.toFixed(0)} MB today, ${r.idleRss.toFixed(0)} MB asleep; first answer from idle ${r.all.map((x) => x.toFixed(0)).join(', ')} ms`);
      rows.push(`| ${appName}, ${method} | ${r.dynamicRss.toFixed(0)} | ${r.idleRss.toFixed(0)} | ${(r.dynamicRss / r.idleRss).toFixed(1)}x | ${r.latency.toFixed(0)} | ${r.all.map((x) => x.toFixed(0)).join(', ')} |`);
    }
  }
  return [
    `## Workers on demand (pm=ondemand)`, '',
    `Idle RSS of the whole server (all processes): today's pool (master and 2 workers, pm=dynamic) beside a pool asleep (the master alone); then the first answer after idle (cgi-fcgi on a UNIX socket, median of ${rounds}), which waits for a worker's start.`, '',
    '| app, method | idle RSS MB, pm=dynamic | idle RSS MB, pm=ondemand asleep | saved | first answer from idle, ms (median) | all rounds, ms |',
    '|---|---:|---:|---:|---:|---|',
    ...rows,
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  fs.mkdirSync(WORK, { recursive: true });
  const rounds = Number(process.argv.find((a) => a.startsWith('--rounds='))?.slice(9) ?? 5);
  console.log(`\n${await onDemand(rounds)}`);
}
