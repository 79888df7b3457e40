// The restart script under load, for `npm run bench`: scripts/restart.sh run again and again while
// clients keep asking through nginx; how many requests fail, and the longest time without an answer.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
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
 * The script as shipped, as the README tells users to run it: PROJDIR with
 * app.mjs and node_modules/.bin/runfcgi, an empty environment, from another
 * directory. Resolves with its exit code.
 */
function restartScript(project) {
  return new Promise((resolve) => {
    const child = spawn('/bin/bash', [path.join(ROOT, 'scripts/restart.sh')], {
      cwd: '/',
      env: { PROJDIR: project, APP: './app.mjs', RUNFCGI_OPTIONS: 'umask=000', PATH: process.env.PATH },
      stdio: 'ignore',
    });
    child.on('exit', resolve);
  });
}

/** Starts the daemon, restarts it RESTARTS times under CLIENTS clients through nginx, stops it. */
export async function restartUnderLoad(port, app) {
  const project = path.join(WORK, 'restart');
  fs.rmSync(project, { recursive: true, force: true });
  fs.mkdirSync(path.join(project, 'node_modules/.bin'), { recursive: true });
  fs.copyFileSync(app, path.join(project, 'app.mjs'));
  fs.symlinkSync(path.join(ROOT, 'bin/runfcgi'), path.join(project, 'node_modules/.bin/runfcgi'));
  const pidfile = path.join(project, 'mysite.pid');
  if ((await restartScript(project)) !== 0) throw new Error('restart.sh could not start the daemon');
  const nginx = await startNginx(port, `server unix:${path.join(project, 'mysite.sock')};`, FASTCGI);
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
      if ((await restartScript(project)) !== 0) scriptFailures++;
      await sleep(500);
    }
    loading = false;
    await Promise.all(clients);
    return { restarts: RESTARTS, clients: CLIENTS, ok, failed, longestGap, scriptFailures };
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
