#!/usr/bin/env node
// Fetch handlers: Hono on runfcgi (prefork, threaded) against Hono on @hono/node-server under cluster
// behind proxy_pass, on three routes; and the fetch hello world against the (req, res) one on runfcgi.
// Requests/s and app CPU per request (/proc, summed over the app's processes), medians of interleaved rounds.
//   node scripts/bench/fetch.mjs [--rounds=5] [--seconds=5] [--only=hello]     (npm run bench runs it too)
//   --only=WORD keeps the rows whose name contains WORD.

import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { FASTCGI, PROXY, ROOT, WORK, cpuMs, median, startNginx, startProcess, waitForSocket, wrk } from './lib.mjs';

// Another port than run.mjs's: a focused run may go on beside a full one.
const PORT = Number(process.env.BENCH_PORT ?? 8090);
const BIN = path.join(ROOT, 'bin/runfcgi');
const PEERS_DIR = path.join(ROOT, 'scripts/bench/peers');
const HONO = path.join(PEERS_DIR, 'hono-app.mjs');
const SOCK = path.join(WORK, 'fetch.sock');

const runfcgi = (method, app, ...more) => () =>
  startProcess(process.execPath, [BIN, `app=${app}`, `socket=${SOCK}`, `method=${method}`, 'minspare=2', 'maxspare=2', 'maxchildren=2', 'daemonize=false', 'umask=000', ...more]);
const nodePeer = (script, app) => () => startProcess(process.execPath, [path.join(PEERS_DIR, script), SOCK, app, '2']);

const ROUTES = {
  'GET /': { path: '/' },
  'GET /json': { path: '/json' },
  'POST /echo': { path: '/echo', script: 'echo.lua' },
};

/** name -> how to start it, how nginx reaches it, the routes measured. */
const PEERS = [
  ['hono runfcgi prefork', runfcgi('prefork', HONO), FASTCGI, Object.keys(ROUTES)],
  ['hono runfcgi threaded', runfcgi('threaded', HONO), FASTCGI, Object.keys(ROUTES)],
  // The default for a fetch handler is the light Response (fastresponse on); these rows are the opt-out.
  ['hono runfcgi prefork fastresponse=false', runfcgi('prefork', HONO, 'fastresponse=false'), FASTCGI, Object.keys(ROUTES)],
  ['hono runfcgi threaded fastresponse=false', runfcgi('threaded', HONO, 'fastresponse=false'), FASTCGI, Object.keys(ROUTES)],
  ['hono node-server', nodePeer('hono-node.mjs', HONO), PROXY, Object.keys(ROUTES)],
  ['hello fetch runfcgi prefork', runfcgi('prefork', path.join(PEERS_DIR, 'hello-fetch.mjs')), FASTCGI, ['GET /']],
  ['hello fetch runfcgi prefork fastresponse=false', runfcgi('prefork', path.join(PEERS_DIR, 'hello-fetch.mjs'), 'fastresponse=false'), FASTCGI, ['GET /']],
  ['hello (req, res) runfcgi prefork', runfcgi('prefork', path.join(PEERS_DIR, 'hello.mjs')), FASTCGI, ['GET /']],
];

function echoScript() {
  const file = path.join(WORK, 'echo.lua');
  fs.writeFileSync(file, `wrk.method = "POST"
wrk.body = '{"name":"runfcgi","tags":["fastcgi","node"],"count":3}'
wrk.headers["Content-Type"] = "application/json"
`);
  return file;
}

/** One peer, every route: warm-up, then requests/s and app CPU us per request. */
async function measurePeer(start, location, routes, seconds) {
  fs.rmSync(SOCK, { force: true });
  const server = start();
  try {
    await waitForSocket(SOCK);
    const nginx = await startNginx(PORT, `server unix:${SOCK};`, location);
    try {
      const out = {};
      for (const route of routes) {
        const { path: p, script } = ROUTES[route];
        const options = { script: script && path.join(WORK, script) };
        try {
          wrk(`http://127.0.0.1:${PORT}${p}`, { ...options, seconds: 1 }); // warm-up
          const pids = server.pids();
          const before = cpuMs(pids);
          const r = wrk(`http://127.0.0.1:${PORT}${p}`, { ...options, seconds });
          out[route] = { ...r, cpuUs: ((cpuMs(pids) - before) * 1000) / r.requests };
        } catch (error) {
          // A round lost (wrk could not connect: the machine is shared) leaves the others standing.
          console.error(`${route}: ${String(error.message).split('\n')[0]}`);
        }
      }
      return out;
    } finally {
      await nginx.stop();
    }
  } finally {
    await server.stop();
  }
}

const ratio = (a, b) => (a && b ? `${(a / b).toFixed(2)}x` : '-');

export async function fetchBench({ rounds = 5, seconds = 5, only, log = console.log } = {}) {
  const peers = PEERS.filter(([name]) => !only || name.includes(only));
  fs.mkdirSync(WORK, { recursive: true });
  echoScript();
  const runs = new Map();
  for (let round = 1; round <= rounds; round++) {
    for (const [name, start, location, routes] of peers) {
      const result = await measurePeer(start, location, routes, seconds);
      for (const [route, r] of Object.entries(result)) {
        const key = `${name}|${route}`;
        if (!runs.has(key)) runs.set(key, []);
        runs.get(key).push(r);
        log(`round ${round} ${name.padEnd(34)} ${route.padEnd(11)} ${r.rps.toFixed(0).padStart(6)} req/s  ${r.cpuUs.toFixed(0).padStart(4)} us CPU/req  errors ${r.errors}`);
      }
    }
  }
  const get = (name, route) => {
    const list = runs.get(`${name}|${route}`) ?? [];
    return { rps: median(list.map((r) => r.rps)), cpu: median(list.map((r) => r.cpuUs)), all: list, errors: list.reduce((n, r) => n + r.errors, 0) };
  };
  const lines = [
    '| app | route | req/s (median) | app CPU us/req (median) | req/s vs node-server | CPU vs node-server | all rounds req/s | errors |',
    '|---|---|---:|---:|---:|---:|---|---:|',
  ];
  for (const [name, , , routes] of peers) {
    for (const route of routes) {
      const r = get(name, route);
      const peer = name.startsWith('hono') ? get('hono node-server', route) : undefined;
      lines.push(`| ${name} | ${route} | ${r.rps.toFixed(0)} | ${r.cpu.toFixed(0)} | ${ratio(r.rps, peer?.rps)} | ${ratio(r.cpu, peer?.cpu)} | ${r.all.map((x) => x.rps.toFixed(0)).join(', ')} | ${r.errors} |`);
    }
  }
  const targets = [];
  for (const method of ['prefork', 'threaded', 'prefork fastresponse=false', 'threaded fastresponse=false']) {
    for (const route of Object.keys(ROUTES)) {
      const ours = get(`hono runfcgi ${method}`, route);
      const peer = get('hono node-server', route);
      targets.push([`Hono ${method} ${route}: req/s >= 1.2x, CPU <= 0.8x (default settings, like for like)`, ours.rps / peer.rps, ours.cpu / peer.cpu, !method.includes('=false')]);
    }
  }
  const fetchHello = get('hello fetch runfcgi prefork', 'GET /');
  const nodeHello = get('hello (req, res) runfcgi prefork', 'GET /');
  lines.push('', '| target | req/s ratio | CPU ratio | met: goal (1.2x, 0.8x) / parity (1.0x, 1.0x) |', '|---|---:|---:|---|');
  for (const [what, rps, cpu, goal] of targets) {
    const met = rps >= 1.2 && cpu <= 0.8 ? 'goal' : rps >= 1 && cpu <= 1 ? 'parity' : 'no';
    lines.push(`| ${goal ? what : what.replace(/:.*$/, ': the opt-out, for comparison')} | ${rps.toFixed(2)}x | ${cpu.toFixed(2)}x | ${met} |`);
  }
  for (const [what, hello] of [['', fetchHello], [' (fastresponse=false)', get('hello fetch runfcgi prefork fastresponse=false', 'GET /')]]) {
    const hr = hello.rps / nodeHello.rps;
    const hc = hello.cpu / nodeHello.cpu;
    lines.push(`| fetch hello world${what} >= 1.0x the (req, res) hello world | ${hr.toFixed(2)}x | ${hc.toFixed(2)}x | ${hr >= 1 ? 'yes' : 'no'} |`);
  }
  return lines.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const rounds = Number(args.find((a) => a.startsWith('--rounds='))?.slice(9) ?? 5);
  const seconds = Number(args.find((a) => a.startsWith('--seconds='))?.slice(10) ?? 5);
  const only = args.find((a) => a.startsWith('--only='))?.slice(7);
  const table = await fetchBench({ rounds, seconds, only });
  console.log(`\n## Fetch handlers behind nginx (wrk -t1 -c32 -d${seconds}s, 2 app workers, median of ${rounds} interleaved rounds)\n\n${table}`);
}
