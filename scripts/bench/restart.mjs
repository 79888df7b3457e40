// The restart script under load, for `npm run bench`: scripts/restart.sh run again and again while
// clients keep asking through nginx; how many requests fail, and the longest time without an answer.
// On its own, both transports: node scripts/bench/restart.mjs

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FASTCGI, ROOT, WORK, sleep, startNginx } from './lib.mjs';

const RESTARTS = 5;
const CLIENTS = 4;

/** Status of one GET, 0 when it failed without one. */
function get(url, agent) {
  return new Promise((resolve) => {
    const req = http.get(url, { agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
      res.on('error', () => resolve(0));
    });
    req.setTimeout(5000, () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

/**
 * The script as shipped, as docs/deploy/README.md tells users to run it: PROJDIR with
 * app.mjs and node_modules/.bin/runfcgi, an empty environment, from another
 * directory; LISTEN as docs/deploy/README.md says for TCP. Resolves with its exit code.
 */
function restartScript(project, listen) {
  return new Promise((resolve) => {
    const child = spawn('/bin/bash', [path.join(ROOT, 'scripts/restart.sh')], {
      cwd: '/',
      env: { PROJDIR: project, APP: './app.mjs', LISTEN: listen, RUNFCGI_OPTIONS: 'umask=000', PATH: process.env.PATH },
      stdio: 'ignore',
    });
    child.on('exit', resolve);
  });
}

/**
 * Starts the daemon, restarts it RESTARTS times under CLIENTS clients through
 * nginx, stops it. `appPort`: listen on TCP 127.0.0.1 at this port, else on a UNIX socket.
 */
export async function restartUnderLoad(port, app, appPort) {
  const project = path.join(WORK, 'restart');
  fs.rmSync(project, { recursive: true, force: true });
  fs.mkdirSync(path.join(project, 'node_modules/.bin'), { recursive: true });
  fs.copyFileSync(app, path.join(project, 'app.mjs'));
  fs.symlinkSync(path.join(ROOT, 'bin/runfcgi'), path.join(project, 'node_modules/.bin/runfcgi'));
  const pidfile = path.join(project, 'mysite.pid');
  const socket = path.join(project, 'mysite.sock');
  const listen = appPort === undefined ? `socket=${socket}` : `host=127.0.0.1 port=${appPort}`;
  if ((await restartScript(project, listen)) !== 0) throw new Error('restart.sh could not start the daemon');
  const nginx = await startNginx(port, `server ${appPort === undefined ? `unix:${socket}` : `127.0.0.1:${appPort}`};`, FASTCGI);
  const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS });
  const url = `http://127.0.0.1:${port}/`;
  let ok = 0;
  let failed = 0;
  let lastAnswer = performance.now();
  let longestGap = 0;
  let loading = true;
  const client = async () => {
    while (loading) {
      const status = await get(url, agent);
      const now = performance.now();
      if (status === 200) {
        ok++;
        longestGap = Math.max(longestGap, now - lastAnswer);
        lastAnswer = now;
      } else {
        failed++;
      }
    }
  };
  try {
    await sleep(300);
    lastAnswer = performance.now();
    const clients = Array.from({ length: CLIENTS }, client);
    await sleep(500);
    let scriptFailures = 0;
    for (let i = 0; i < RESTARTS; i++) {
      if ((await restartScript(project, listen)) !== 0) scriptFailures++;
      await sleep(500);
    }
    loading = false;
    await Promise.all(clients);
    return { listen: appPort === undefined ? 'UNIX socket' : 'TCP 127.0.0.1', restarts: RESTARTS, clients: CLIENTS, ok, failed, longestGap, scriptFailures };
  } finally {
    agent.destroy();
    await nginx.stop();
    // The last master; the earlier ones left once their successor took the socket over.
    try {
      process.kill(Number(fs.readFileSync(pidfile, 'utf8')), 'SIGQUIT');
    } catch {}
    for (let i = 0; i < 250 && fs.existsSync(pidfile); i++) await sleep(20);
  }
}

/** The section of the report: one column per transport. */
export function restartTable(rows) {
  const r0 = rows[0];
  return [
    '## The restart script under load', '',
    `\`scripts/restart.sh\` run ${r0.restarts} times, 0.5 s apart, while ${r0.clients} clients keep asking through nginx (keep-alive).`, '',
    `| measure | ${rows.map((r) => r.listen).join(' | ')} |`, `|---|${rows.map(() => '---:').join('|')}|`,
    `| requests answered | ${rows.map((r) => r.ok).join(' | ')} |`,
    `| requests failed | ${rows.map((r) => r.failed).join(' | ')} |`,
    `| longest time without an answer | ${rows.map((r) => `${r.longestGap.toFixed(0)} ms`).join(' | ')} |`,
    `| runs of the script that failed | ${rows.map((r) => r.scriptFailures).join(' | ')} |`,
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const hello = path.join(ROOT, 'scripts/bench/peers/hello.mjs');
  const rows = [await restartUnderLoad(8089, hello), await restartUnderLoad(8089, hello, 8090)];
  console.log(restartTable(rows));
}
