#!/usr/bin/env node
// npm run bench: runfcgi and its peers side by side behind one nginx, in one run on this machine.
// Prints a table of requests/s, latency, errors and peak RSS with ratios, and writes BENCHMARKS.md.
//   npm run bench                 everything (about 8 minutes)
//   npm run bench -- --quick      hello world only, 3 s per peer
//   npm run bench -- --only=runfcgi-prefork,node-http --rounds=5
//   node scripts/bench/fetch.mjs  fetch handlers alone: Hono on runfcgi against @hono/node-server
//   npm run bench -- --frameworks[=svelte,next]   the framework fixtures only (runfcgi against their own servers)

import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FASTCGI, PROXY, ROOT, WORK, cpuMs, median, memory, sleep, startNginx, startProcess, waitForSocket, wrk } from './lib.mjs';
import { fetchBench } from './fetch.mjs';
import { stickyBench } from './sticky.mjs';
import { frameworks } from './frameworks.mjs';
import { restartTable, restartUnderLoad } from './restart.mjs';
import { onDemand } from './ondemand.mjs';
import { lossless, losslessTable } from './lossless.mjs';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = args.find((a) => a.startsWith('--only='))?.slice(7).split(',');
const frameworksFlag = args.find((a) => a === '--frameworks' || a.startsWith('--frameworks='));
const frameworksOnly = frameworksFlag?.includes('=') ? frameworksFlag.slice(13).split(',') : undefined;
const SECONDS = quick ? 3 : 5;
// Single rounds move by 10-20% on a small machine: the median of five is steadier than of three.
const ROUNDS = Number(args.find((a) => a.startsWith('--rounds='))?.slice(9) ?? (quick ? 1 : 5));
const PORT = 8089;
const BIN = path.join(ROOT, 'bin/runfcgi');
const PEERS_DIR = path.join(ROOT, 'scripts/bench/peers');
const HELLO = path.join(PEERS_DIR, 'hello.mjs');
const HELLO_FETCH = path.join(PEERS_DIR, 'hello-fetch.mjs');
const SOCK = path.join(WORK, 'app.sock');

execFileSync('bash', [path.join(ROOT, 'scripts/bench/setup.sh')], { stdio: 'inherit' });
fs.mkdirSync(WORK, { recursive: true });

const node = (script, ...rest) => () => startProcess(process.execPath, [path.join(PEERS_DIR, script), SOCK, ...rest]);
const runfcgi = (method, app) => () =>
  startProcess(process.execPath, [BIN, `app=${app}`, `socket=${SOCK}`, `method=${method}`, 'minspare=2', 'maxspare=2', 'maxchildren=2', 'daemonize=false', 'umask=000']);

function phpFpm(children) {
  return () => {
    const conf = path.join(WORK, 'php-fpm.conf');
    fs.writeFileSync(conf, `[global]
pid = ${WORK}/php-fpm.pid
error_log = ${WORK}/php-fpm.log
daemonize = no
[www]
listen = ${SOCK}
listen.mode = 0666
pm = static
pm.max_children = ${children}
${process.getuid() === 0 ? 'user = root\ngroup = root' : ''}
`);
    const binary = fs.readdirSync('/usr/sbin').find((f) => /^php-fpm[\d.]*$/.test(f));
    // -n keeps the machine's php.ini out, and with it conf.d, which is where Debian loads
    // OPcache: load it by name, as every production PHP-FPM runs (without it PHP compiles
    // the script on every request: ~20% fewer requests/s here).
    return startProcess(`/usr/sbin/${binary}`, ['-y', conf, '-R', '-n', '-d', 'zend_extension=opcache', '-d', 'opcache.enable=1']);
  };
}

/** name -> how to start it, and how nginx reaches it. */
const PEERS = [
  ['nginx alone', null, 'return 200 "Hello, World!\\n";'],
  ['floor', node('floor.mjs', '2'), FASTCGI],
  ['runfcgi prefork', runfcgi('prefork', HELLO), FASTCGI],
  ['runfcgi threaded', runfcgi('threaded', HELLO), FASTCGI],
  ['runfcgi prefork fetch', runfcgi('prefork', HELLO_FETCH), FASTCGI],
  ['runfcgi threaded fetch', runfcgi('threaded', HELLO_FETCH), FASTCGI],
  ['node-http', node('node-http.mjs', HELLO, '2'), PROXY],
  ['node-fastcgi', node('node-fastcgi.mjs', HELLO, '2'), FASTCGI],
  ['go fcgi', () => startProcess(path.join(WORK, 'gofcgi'), [SOCK]), FASTCGI],
  ['php-fpm', 'php', `${FASTCGI} fastcgi_param SCRIPT_FILENAME ${path.join(PEERS_DIR, 'hello.php')};`],
].filter(([name]) => !only || only.includes(name.replaceAll(' ', '-')));

async function measure(start, location, seconds = SECONDS) {
  fs.rmSync(SOCK, { force: true });
  const server = start?.();
  try {
    if (server) await waitForSocket(SOCK);
    const upstream = server ? `server unix:${SOCK};` : '';
    const nginx = await startNginx(PORT, upstream, location);
    try {
      wrk(`http://127.0.0.1:${PORT}/`, { seconds: 1 }); // warm-up
      const result = wrk(`http://127.0.0.1:${PORT}/`, { seconds });
      const rss = server ? memory(server.pids(), 'VmHWM') : memory(nginx.pids(), 'VmHWM');
      return { ...result, rss };
    } finally {
      await nginx.stop();
    }
  } finally {
    await server?.stop();
  }
}

/**
 * Every peer once per round, rounds interleaved, so that a slow moment of the
 * machine hits all of them alike; each row is the median round of its peer.
 */
async function hello() {
  const runs = new Map(PEERS.map(([name]) => [name, []]));
  let phpChildren;
  for (let round = 1; round <= ROUNDS; round++) {
    for (const [name, start, location] of PEERS) {
      let r;
      if (start === 'php') {
        // PHP-FPM at its best static child count, chosen in the first round.
        if (phpChildren === undefined) {
          let best;
          for (const children of [2, 4, 8, 16]) {
            const t = await measure(phpFpm(children), location, quick ? 2 : 3);
            if (!best || t.rps > best.rps) best = { ...t, children };
          }
          phpChildren = best.children;
        }
        r = { ...(await measure(phpFpm(phpChildren), location)), note: `pm=static, ${phpChildren} children` };
      } else {
        r = await measure(start, location);
      }
      runs.get(name).push(r);
      console.log(`round ${round} ${name.padEnd(24)} ${r.rps.toFixed(0).padStart(7)} req/s  p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms  errors ${r.errors}  peak RSS ${r.rss.toFixed(0)} MB`);
    }
  }
  const rows = new Map();
  for (const [name, list] of runs) {
    const sorted = [...list].sort((a, b) => a.rps - b.rps);
    const mid = sorted[Math.floor(sorted.length / 2)];
    rows.set(name, { ...mid, errors: list.reduce((n, r) => n + r.errors, 0), rss: Math.max(...list.map((r) => r.rss)), all: list.map((r) => r.rps) });
  }
  return rows;
}

const ratio = (a, b) => (a && b ? `${(a / b).toFixed(2)}x` : '-');

function helloTable(rows) {
  const prefork = rows.get('runfcgi prefork');
  const lines = [
    '| server | req/s (median) | all rounds | p50 ms | p99 ms | errors | peak RSS MB | prefork vs it |',
    '|---|---:|---|---:|---:|---:|---:|---:|',
  ];
  for (const [name, r] of rows) {
    lines.push(`| ${name}${r.note ? ` (${r.note})` : ''} | ${r.rps.toFixed(0)} | ${r.all.map((x) => x.toFixed(0)).join(', ')} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.errors} | ${r.rss.toFixed(0)} | ${ratio(prefork?.rps, r.rps)} |`);
  }
  const get = (n) => rows.get(n)?.rps;
  const threaded = get('runfcgi threaded');
  const targets = [
    ['prefork >= 1.0x node-http', prefork?.rps / get('node-http'), 1.0],
    ['prefork >= 0.9x floor', prefork?.rps / get('floor'), 0.9],
    ['prefork >= 2x php-fpm', prefork?.rps / get('php-fpm'), 2],
    ['prefork >= 2x go fcgi', prefork?.rps / get('go fcgi'), 2],
    ['prefork >= 8x node-fastcgi', prefork?.rps / get('node-fastcgi'), 8],
    ['threaded >= 0.9x prefork', threaded / prefork?.rps, 0.9],
    ['prefork p99 <= node-http p99 (measured: node-http p99 / prefork p99)', rows.get('node-http')?.p99 / prefork?.p99, 1],
  ];
  lines.push('', '| target | measured | met |', '|---|---:|---|');
  for (const [what, value, goal] of targets) {
    if (Number.isFinite(value)) lines.push(`| ${what} | ${value.toFixed(2)}x | ${value >= goal ? 'yes' : 'no'} |`);
  }
  // The floor is the most a FastCGI server in Node can do here: where it is under 2x php-fpm,
  // that target is out of reach for any of them, and the table says so.
  const floorVsPhp = get('floor') / get('php-fpm');
  if (Number.isFinite(floorVsPhp)) lines.push('', `The floor itself is ${floorVsPhp.toFixed(2)}x php-fpm in this run (the ceiling of any FastCGI server on Node's sockets).`);
  return lines.join('\n');
}

const BULK_MB = 100;
/** Measured transfers each way per peer and round. */
const TRANSFERS = 3;

function curlSeconds(args) {
  const out = execFileSync('curl', ['-s', '-o', '/dev/null', '-w', '%{time_total} %{http_code}', ...args], { encoding: 'utf8', maxBuffer: 1 << 20 });
  const [time, code] = out.trim().split(' ');
  if (code !== '200') throw new Error(`curl: status ${code}`);
  return Number(time);
}

async function bulk() {
  const file = path.join(WORK, `${BULK_MB}mb.bin`);
  if (!fs.existsSync(file)) fs.writeFileSync(file, Buffer.alloc(BULK_MB * 1024 * 1024, 'b'));
  const bulkApp = path.join(PEERS_DIR, 'bulk.mjs');
  const peers = [
    ['runfcgi prefork', runfcgi('prefork', bulkApp), FASTCGI],
    ['runfcgi threaded', runfcgi('threaded', bulkApp), FASTCGI],
    ['node-http', node('node-http.mjs', bulkApp, '2'), PROXY],
  ];
  // Interleaved rounds, as for hello world: a slow moment of the machine hits every peer alike.
  const runs = new Map(peers.map(([name]) => [name, { up: [], down: [], upCpu: [], downCpu: [], growth: [] }]));
  for (let round = 1; round <= ROUNDS; round++) {
    for (const [name, start, location] of peers) {
      fs.rmSync(SOCK, { force: true });
      const server = start();
      await waitForSocket(SOCK);
      const nginx = await startNginx(PORT, `server unix:${SOCK};`, `${location} ${location === FASTCGI ? 'fastcgi_buffering off;' : 'proxy_buffering off;'}`);
      try {
        await sleep(500);
        const r = runs.get(name);
        const pids = server.pids();
        // Idle RSS before anything passed through: the growth counts the first transfers too.
        const before = memory(pids, 'VmRSS');
        // A warm-up of each direction first: the measured transfers find the code paths compiled.
        curlSeconds(['--data-binary', `@${file}`, `http://127.0.0.1:${PORT}/upload`]);
        curlSeconds([`http://127.0.0.1:${PORT}/download?mb=10`]);
        // Transfers of this size swing by 2x on a small machine (how nginx, curl and the app
        // share the cores): several per round, and the median of them all.
        for (let i = 0; i < TRANSFERS; i++) {
          let cpu = cpuMs(pids);
          r.up.push(BULK_MB / curlSeconds(['--data-binary', `@${file}`, `http://127.0.0.1:${PORT}/upload`]));
          r.upCpu.push(cpuMs(pids) - cpu);
          cpu = cpuMs(pids);
          r.down.push(BULK_MB / curlSeconds([`http://127.0.0.1:${PORT}/download?mb=${BULK_MB}`]));
          r.downCpu.push(cpuMs(pids) - cpu);
        }
        r.growth.push(memory(pids, 'VmHWM') - before);
        const last = (xs) => xs.slice(-TRANSFERS).map((x) => x.toFixed(0)).join(', ');
        console.log(`round ${round} ${name.padEnd(24)} upload MB/s ${last(r.up)} (ms CPU ${last(r.upCpu)})  download MB/s ${last(r.down)} (ms CPU ${last(r.downCpu)})  RSS growth ${r.growth.at(-1).toFixed(0)} MB`);
      } finally {
        await nginx.stop();
        await server.stop();
      }
    }
  }
  const rows = peers.map(([name]) => {
    const r = runs.get(name);
    return { name, upMBs: median(r.up), downMBs: median(r.down), upCpu: median(r.upCpu), downCpu: median(r.downCpu), growth: Math.max(...r.growth) };
  });
  const base = rows.find((r) => r.name === 'node-http');
  const prefork = rows.find((r) => r.name === 'runfcgi prefork');
  const targets = [
    ['prefork upload >= 0.9x node-http', prefork.upMBs / base.upMBs, (v) => v >= 0.9],
    ['prefork download >= 0.9x node-http', prefork.downMBs / base.downMBs, (v) => v >= 0.9],
  ];
  const target = ([what, value, met]) => `| ${what} | ${value.toFixed(2)}x | ${met(value) ? 'yes' : 'no'} |`;
  const growth = Math.max(...rows.filter((r) => r.name.startsWith('runfcgi')).map((r) => r.growth));
  return [
    `| server | upload MB/s | download MB/s | vs node-http (up / down) | app CPU ms per ${BULK_MB} MB (up / down) | RSS growth MB (peak - idle, all processes, worst round) |`,
    '|---|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.name} | ${r.upMBs.toFixed(0)} | ${r.downMBs.toFixed(0)} | ${ratio(r.upMBs, base?.upMBs)} / ${ratio(r.downMBs, base?.downMBs)} | ${r.upCpu.toFixed(0)} / ${r.downCpu.toFixed(0)} | ${r.growth.toFixed(0)} |`),
    '', '| target | measured | met |', '|---|---:|---|',
    ...targets.map(target),
    `| runfcgi RSS growth < 50 MB | ${growth.toFixed(0)} MB | ${growth < 50 ? 'yes' : 'no'} |`,
  ].join('\n');
}

const STARTUP_RUNS = 7;

/** Milliseconds from the command to the first answered request. */
async function startup(daemon) {
  // The servers of the bulk runs exit in the background: let the machine settle first.
  await sleep(2000);
  const times = [];
  for (let i = 0; i < STARTUP_RUNS; i++) {
    fs.rmSync(SOCK, { force: true });
    const pidfile = path.join(WORK, 'startup.pid');
    const t0 = performance.now();
    let server;
    if (daemon) {
      spawnSync(process.execPath, [BIN, `app=${HELLO}`, `socket=${SOCK}`, `pidfile=${pidfile}`]);
    } else {
      server = startProcess(process.execPath, [BIN, `app=${HELLO}`, `socket=${SOCK}`, 'daemonize=false']);
    }
    for (;;) {
      const r = spawnSync('cgi-fcgi', ['-bind', '-connect', SOCK], { env: { REQUEST_METHOD: 'GET', REQUEST_URI: '/' }, encoding: 'utf8' });
      if (r.stdout.includes('Hello')) break;
      await sleep(5);
    }
    times.push(performance.now() - t0);
    if (daemon) {
      const pid = Number(fs.readFileSync(pidfile, 'utf8'));
      process.kill(pid, 'SIGQUIT');
      while (fs.existsSync(pidfile)) await sleep(20);
    } else {
      await server.stop();
    }
  }
  return median(times);
}

async function idle(method) {
  fs.rmSync(SOCK, { force: true });
  const server = runfcgi(method, HELLO)();
  await waitForSocket(SOCK);
  await sleep(1500);
  const rss = memory(server.pids(), 'VmRSS');
  const processes = server.pids().length;
  await server.stop();
  return { rss, processes };
}

const sections = [];
if (frameworksFlag === undefined) {
  const helloRows = await hello();
  sections.push(`## Hello world behind nginx (wrk -t1 -c32 -d${SECONDS}s, 1 nginx worker, 2 app workers, median of ${ROUNDS} interleaved rounds)\n\n${helloTable(helloRows)}`);
}
if (!quick && !only && frameworksFlag === undefined) {
  sections.push(`## Fetch handlers behind nginx (wrk -t1 -c32 -d${SECONDS}s, 2 app workers, median of ${ROUNDS} interleaved rounds; \`node scripts/bench/fetch.mjs\` runs this part alone)\n\n${await fetchBench({ rounds: ROUNDS, seconds: SECONDS })}`);
  sections.push(`## sticky=true behind nginx (wrk -t1 -c32 -d${SECONDS}s, 2 app workers, prefork, median of ${ROUNDS} interleaved rounds; \`node scripts/bench/sticky.mjs\` runs this part alone)\n\n${await stickyBench({ rounds: ROUNDS, seconds: SECONDS })}`);
  sections.push(`## ${BULK_MB} MB bodies streamed through nginx (curl, median of ${TRANSFERS} transfers each way in each of ${ROUNDS} interleaved rounds)\n\n${await bulk()}`);
  const fg = await startup(false);
  const bg = await startup(true);
  const pre = await idle('prefork');
  const thr = await idle('threaded');
  sections.push([
    '## Startup and idle memory', '',
    '| measure | value |', '|---|---:|',
    `| start to first answer, foreground (median of ${STARTUP_RUNS}) | ${fg.toFixed(0)} ms |`,
    `| start to first answer, daemon (median of ${STARTUP_RUNS}) | ${bg.toFixed(0)} ms |`,
    `| idle RSS, prefork: master + 2 workers (${pre.processes} processes) | ${pre.rss.toFixed(0)} MB |`,
    `| idle RSS, threaded: one process, 2 worker threads | ${thr.rss.toFixed(0)} MB |`,
    '', '| target | measured | met |', '|---|---:|---|',
    `| start to first answer < 300 ms (foreground / daemon) | ${fg.toFixed(0)} / ${bg.toFixed(0)} ms | ${fg < 300 && bg < 300 ? 'yes' : fg < 300 ? 'foreground only' : 'no'} |`,
  ].join('\n'));
  sections.push(await onDemand());
  // The same on a UNIX socket and on TCP (the next master takes the socket over on both).
  sections.push(restartTable([await restartUnderLoad(PORT, HELLO), await restartUnderLoad(PORT, HELLO, PORT + 1)]));
  // Worker changes under POST load, beside PHP-FPM (nginx retries a failed GET, never a POST).
  sections.push(losslessTable(await lossless()));
}
if (frameworksFlag !== undefined || (!quick && !only)) sections.push(await frameworks({ port: PORT, rounds: ROUNDS, seconds: SECONDS, only: frameworksOnly }));

const machine = `${os.cpus().length} cores (${os.cpus()[0]?.model}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${execFileSync('nginx', ['-v'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) || 'nginx'}`;
const report = `# Benchmarks\n\nMade by \`npm run bench${args.length ? ` -- ${args.join(' ')}` : ''}\` on ${new Date().toISOString().slice(0, 10)}: ${machine.trim()}.\nAbsolute numbers depend on the machine; the ratios, measured side by side in one run, hold better.\n\n${sections.join('\n\n')}\n`;
console.log(`\n${report}`);
if (!quick && !only && frameworksFlag === undefined) fs.writeFileSync(path.join(ROOT, 'BENCHMARKS.md'), report);
