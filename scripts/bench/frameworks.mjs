// npm run bench -- --frameworks: each framework fixture's SSR page under runfcgi against the framework's own server.
// Both behind the same nginx (FastCGI / proxy_pass), one app process each; requests/s and app CPU per request.

import fs from 'node:fs';
import path from 'node:path';
import { builtApp } from '../../test/helpers/app-builds.mjs';
import { FASTCGI, PROXY, ROOT, WORK, cpuMs, median, startNginx, startProcess, waitForSocket, wrk } from './lib.mjs';

const BIN = path.join(ROOT, 'bin/runfcgi');
const SOCK = path.join(WORK, 'framework.sock');
const OWN_PORT = 8093;
const SSR = '/ssr?name=Ann%20%26%20Bob';

/**
 * The fixtures of test/integration/meta-frameworks.test.ts, started as its
 * recipes say: `own` is the framework's own production server (node
 * arguments, environment), `app` runfcgi's app= and env= words.
 */
const FRAMEWORKS = [
  { name: 'Next.js 15', fixture: 'next', own: (dir) => [path.join(dir, 'node_modules/next/dist/bin/next'), 'start'], app: (dir) => [`app=${dir}`] },
  {
    name: 'SvelteKit 2',
    fixture: 'svelte',
    own: (dir) => [path.join(dir, 'build')],
    app: (dir, origin) => [`app=${dir}`, `env=ORIGIN=${origin}`],
    env: (origin) => ({ ORIGIN: origin }),
  },
  {
    name: 'React Router 7',
    fixture: 'react-router',
    own: (dir) => [path.join(dir, 'node_modules/.bin/react-router-serve'), 'build/server/index.js'],
    app: (dir) => [`app=${dir}`],
  },
  { name: 'Astro 5', fixture: 'astro', own: (dir) => [path.join(dir, 'dist/server/entry.mjs')], app: (dir) => [`app=${dir}`] },
  { name: 'NestJS 11', fixture: 'nest', own: (dir) => [path.join(dir, 'dist/main.js')], app: (dir) => [`app=${path.join(dir, 'dist/fcgi.js')}`] },
];

// Nuxt 4 builds only on Node 22.19 or later. Its build is a (req, res) listener (Nitro's
// node-listener preset): its own server is the one Nitro's node-server preset makes, http.createServer.
const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
if (major > 22 || (major === 22 && minor >= 19)) {
  FRAMEWORKS.push({
    name: 'Nuxt 4',
    fixture: 'nuxt',
    own: () => ['--input-type=module', '-e', "import http from 'node:http'; import { listener } from './.output/server/index.mjs'; http.createServer(listener).listen(Number(process.env.PORT), process.env.HOST);"],
    app: (dir) => [`app=${dir}`],
  });
}

/** One measurement: the server started, warmed up, loaded for `seconds`; requests/s and app CPU ms per request. */
async function measure(server, upstream, location, port, seconds) {
  try {
    await waitForSocket(upstream.startsWith('server unix:') ? SOCK : OWN_PORT, 120_000);
    const nginx = await startNginx(port, upstream, location);
    try {
      const url = `http://127.0.0.1:${port}${SSR}`;
      wrk(url, { seconds: 2, connections: 8 }); // warm-up: the JIT, the framework's caches
      const pids = server.pids();
      const cpu = cpuMs(pids);
      const r = wrk(url, { seconds, connections: 8 });
      return { ...r, cpuPerRequest: (cpuMs(pids) - cpu) / (r.rps * seconds) };
    } finally {
      await nginx.stop();
    }
  } finally {
    await server.stop();
  }
}

/**
 * The frameworks' rows: in each round runfcgi (one prefork worker) and the
 * framework's own server (one process), so a busy moment of the machine hits
 * both alike; the medians of the rounds. Needs the fixtures built (the tests
 * build them; this builds any that is missing).
 */
export async function frameworks({ port, rounds, seconds, only }) {
  const origin = `http://127.0.0.1:${port}`;
  const list = FRAMEWORKS.filter((f) => !only || only.includes(f.fixture));
  if (!FRAMEWORKS.some((f) => f.fixture === 'nuxt')) console.warn(`Nuxt 4 left out: its build needs Node 22.19 or later (this is ${process.version}).`);
  const rows = [];
  for (const fw of list) {
    const dir = await builtApp(fw.fixture);
    const env = { ...process.env, NODE_ENV: 'production', NEXT_TELEMETRY_DISABLED: '1', ...fw.env?.(origin) };
    const runs = { runfcgi: [], own: [] };
    for (let round = 1; round <= rounds; round++) {
      const ours = async () => {
        fs.rmSync(SOCK, { force: true });
        const server = startProcess(process.execPath, [BIN, ...fw.app(dir, origin), `socket=${SOCK}`, 'method=prefork', 'minspare=1', 'maxspare=1', 'maxchildren=1', 'daemonize=false', 'umask=000'], { cwd: dir, env });
        runs.runfcgi.push(await measure(server, `server unix:${SOCK};`, FASTCGI, port, seconds));
      };
      const own = async () => {
        const server = startProcess(process.execPath, fw.own(dir), { cwd: dir, env: { ...env, PORT: String(OWN_PORT), HOST: '127.0.0.1' } });
        runs.own.push(await measure(server, `server 127.0.0.1:${OWN_PORT};`, `${PROXY} proxy_set_header Host $http_host;`, port, seconds));
      };
      // Each goes first in every other round: a machine getting busier or quieter favours neither.
      for (const one of round % 2 === 1 ? [ours, own] : [own, ours]) await one();
      const line = (r) => `${r.rps.toFixed(0).padStart(6)} req/s ${r.cpuPerRequest.toFixed(2)} ms CPU/req${r.errors ? ` ${r.errors} errors` : ''}`;
      console.log(`round ${round} ${fw.name.padEnd(16)} runfcgi ${line(runs.runfcgi.at(-1))}   own ${line(runs.own.at(-1))}`);
    }
    const mid = (list, key) => median(list.map((r) => r[key]));
    rows.push({
      name: fw.name,
      ours: { rps: mid(runs.runfcgi, 'rps'), cpu: mid(runs.runfcgi, 'cpuPerRequest'), errors: runs.runfcgi.reduce((n, r) => n + r.errors, 0) },
      own: { rps: mid(runs.own, 'rps'), cpu: mid(runs.own, 'cpuPerRequest'), errors: runs.own.reduce((n, r) => n + r.errors, 0) },
    });
  }
  const lines = [
    `## Frameworks: the SSR page (\`${SSR}\`) behind nginx (wrk -t1 -c8 -d${seconds}s, 1 nginx worker, one app process: runfcgi with one prefork worker, or the framework's own server behind proxy_pass; median of ${rounds} interleaved rounds)`,
    '',
    '| framework | runfcgi req/s | own server req/s | runfcgi vs own | app CPU ms/request, runfcgi | app CPU ms/request, own | errors | >= 0.9x |',
    '|---|---:|---:|---:|---:|---:|---:|---|',
    ...rows.map((r) => {
      const ratio = r.ours.rps / r.own.rps;
      return `| ${r.name} | ${r.ours.rps.toFixed(0)} | ${r.own.rps.toFixed(0)} | ${ratio.toFixed(2)}x | ${r.ours.cpu.toFixed(2)} | ${r.own.cpu.toFixed(2)} | ${r.ours.errors + r.own.errors} | ${ratio >= 0.9 ? 'yes' : 'no'} |`;
    }),
    '',
    "App CPU is user + system time from /proc, summed over the app's processes (runfcgi: master and worker), divided by the requests answered.",
  ];
  return lines.join('\n');
}
