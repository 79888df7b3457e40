// Worker changes under POST load, for `npm run bench`: runfcgi (2 workers, prefork and threaded) and PHP-FPM
// (pm=static, 2 children) behind the same nginx with kept-alive upstream connections, side by
// side in interleaved rounds: failed POSTs per HUP reload (PHP-FPM: SIGUSR2) and over maxrequests
// recycling (PHP-FPM: pm.max_requests), requests/s and the servers' CPU time per request.
// On its own: node scripts/bench/lossless.mjs [--rounds=3]

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FASTCGI, ROOT, WORK, median, sleep, startNginx, startProcess, tree, waitForSocket } from './lib.mjs';

const PEERS_DIR = path.join(ROOT, 'scripts/bench/peers');
const SOCK = path.join(WORK, 'lossless.sock');
const SECONDS = 8;
const RELOADS = 5;
/** As the issue asks, 3000; fewer when the machine is too slow for that to happen within a run. */
const MAXREQUESTS = Number(process.env.LOSSLESS_MAXREQUESTS ?? 300);
/** A body over one FastCGI record (65535 bytes): nginx sends it in several. */
const BODY_BYTES = 70_000;

/** CPU ms of a server: its processes now, and the children it has reaped (cutime, cstime of the root). */
function serverCpuMs(root) {
  let ticks = 0;
  for (const pid of tree(root)) {
    try {
      const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
      ticks += Number(f[11]) + Number(f[12]) + (pid === root ? Number(f[13]) + Number(f[14]) : 0);
    } catch {}
  }
  return ticks * 10;
}

/** wrk with the POST script, without blocking this process (signals go out meanwhile). */
function wrkPost(url, seconds) {
  const script = path.join(WORK, 'post.lua');
  fs.writeFileSync(script, `wrk.method = "POST"\nwrk.body = string.rep("x", ${BODY_BYTES})\nwrk.headers["Content-Type"] = "text/plain"\n`);
  return new Promise((resolve) => {
    const child = spawn('wrk', ['-t1', '-c16', `-d${seconds}s`, '--timeout', '30s', '-s', script, url], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('exit', () => {
      const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
      const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
      const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
      const failed = non2xx + (sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
      resolve({ requests, failed, rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0) });
    });
  });
}

function runfcgi(extra) {
  return startProcess(process.execPath, [path.join(ROOT, 'bin/runfcgi'), `app=${path.join(PEERS_DIR, 'post.mjs')}`, `socket=${SOCK}`, 'minspare=2', 'maxspare=2', 'maxchildren=2', 'daemonize=false', 'umask=000', ...extra]);
}

function phpFpm(maxRequests) {
  const conf = path.join(WORK, 'php-fpm-lossless.conf');
  fs.writeFileSync(conf, `[global]
pid = ${WORK}/php-fpm-lossless.pid
error_log = ${WORK}/php-fpm-lossless.log
daemonize = no
[www]
listen = ${SOCK}
listen.mode = 0666
pm = static
pm.max_children = 2
pm.max_requests = ${maxRequests}
${process.getuid() === 0 ? 'user = root\ngroup = root' : ''}
`);
  const binary = fs.readdirSync('/usr/sbin').find((f) => /^php-fpm[\d.]*$/.test(f));
  return startProcess(`/usr/sbin/${binary}`, ['-y', conf, '-R', '-n', '-d', 'zend_extension=opcache', '-d', 'opcache.enable=1']);
}

const PEERS = {
  'runfcgi prefork': { start: (maxRequests) => runfcgi(maxRequests ? [`maxrequests=${maxRequests}`] : []), reload: 'SIGHUP', location: FASTCGI },
  'runfcgi threaded': { start: (maxRequests) => runfcgi(['method=threaded', ...(maxRequests ? [`maxrequests=${maxRequests}`] : [])]), reload: 'SIGHUP', location: FASTCGI },
  'PHP-FPM 8.2': { start: (maxRequests) => phpFpm(maxRequests ?? 0), reload: 'SIGUSR2', location: `${FASTCGI} fastcgi_param SCRIPT_FILENAME ${path.join(PEERS_DIR, 'post.php')};` },
};

/** A loopback port free now: the machine may run other benchmarks on the fixed ones. */
function freePort() {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** One run: the server behind nginx under POST load for SECONDS; `reloads` signals spread over it. */
async function run(peer, scenario) {
  fs.rmSync(SOCK, { force: true });
  const server = peer.start(scenario === 'maxrequests' ? MAXREQUESTS : undefined);
  try {
    await waitForSocket(SOCK);
    const port = await freePort();
    const nginx = await startNginx(port, `server unix:${SOCK};`, peer.location);
    try {
      const cpu0 = serverCpuMs(server.child.pid);
      const load = wrkPost(`http://127.0.0.1:${port}/`, SECONDS);
      if (scenario === 'reload') {
        for (let i = 0; i < RELOADS; i++) {
          await sleep((SECONDS * 1000) / (RELOADS + 1));
          process.kill(server.child.pid, peer.reload);
        }
      }
      const r = await load;
      // What nginx said about the failed ones (wrk counts its own timeouts too).
      const said = fs.readFileSync(path.join(WORK, 'nginx/error.log'), 'utf8').split('\n').filter((l) => /\[error\]/.test(l) && l.includes(`:${port}"`));
      return { ...r, nginxErrors: said.length, firstError: said[0], cpuPerRequest: (serverCpuMs(server.child.pid) - cpu0) / Math.max(1, r.requests) };
    } finally {
      await nginx.stop();
    }
  } finally {
    await server.stop();
  }
}

/** Rounds interleaved, runfcgi and PHP-FPM alternately; per peer and scenario the median round. */
export async function lossless(rounds = 3) {
  const rows = [];
  for (const scenario of ['reload', 'maxrequests']) {
    const runs = Object.fromEntries(Object.keys(PEERS).map((n) => [n, []]));
    for (let round = 1; round <= rounds; round++) {
      for (const [name, peer] of Object.entries(PEERS)) {
        const r = await run(peer, scenario);
        runs[name].push(r);
        console.log(`round ${round} ${scenario.padEnd(11)} ${name.padEnd(16)} ${r.requests} POSTs, ${r.failed} failed (nginx errors ${r.nginxErrors}), ${r.rps.toFixed(0)} req/s, ${r.cpuPerRequest.toFixed(3)} CPU ms/request`);
        if (r.firstError) console.log(`  nginx: ${r.firstError.slice(0, 200)}`);
      }
    }
    for (const [name, list] of Object.entries(runs)) {
      rows.push({
        scenario, name,
        failed: list.map((r) => r.failed), requests: list.reduce((n, r) => n + r.requests, 0),
        rps: median(list.map((r) => r.rps)), cpu: median(list.map((r) => r.cpuPerRequest)),
      });
    }
  }
  return rows;
}

export function losslessTable(rows) {
  const what = { reload: `${RELOADS} graceful reloads per run (runfcgi SIGHUP, PHP-FPM SIGUSR2)`, maxrequests: `recycling every ${MAXREQUESTS} requests (maxrequests=, pm.max_requests)` };
  return [
    '## Worker changes under POST load', '',
    `POSTs of ${BODY_BYTES} bytes (wrk, 16 connections, ${SECONDS} s per run) through one nginx with \`fastcgi_keep_conn on\` and upstream keepalive; `
      + 'runfcgi with 2 worker processes (prefork) or threads, PHP-FPM 8.2 pm=static with 2 children; rounds interleaved. nginx never retries a POST.', '',
    '| scenario | server | failed POSTs per run | POSTs in all runs | req/s (median) | server CPU ms per request (median) |', '|---|---|---|---:|---:|---:|',
    ...rows.map((r) => `| ${what[r.scenario]} | ${r.name} | ${r.failed.join(', ')} | ${r.requests} | ${r.rps.toFixed(0)} | ${r.cpu.toFixed(3)} |`),
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  fs.mkdirSync(WORK, { recursive: true });
  const rounds = Number(process.argv.find((a) => a.startsWith('--rounds='))?.slice(9) ?? 3);
  console.log(losslessTable(await lossless(rounds)));
}
