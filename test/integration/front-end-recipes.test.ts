// The Caddy and HAProxy recipes (examples/caddy/, examples/haproxy/) run as written, with the
// restart script and SIGHUP reloads under POST load: every POST answered, whole (issue 29).

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keepPosting, startCaddy, startHaproxy } from '../helpers/front-ends.js';
import { waitFor } from '../helpers/load.js';
import { children, readPid, running } from '../helpers/processes.js';
import { EXAMPLES, layout, recipe, type WebServer } from '../helpers/servers.js';
import { FIXTURES, need, tempDir, waitForListen } from '../helpers/run.js';

const RESTARTS = 3;
const RELOADS = 5;
/** POSTs in flight at once, through the front end. */
const LANES = 8;

interface Recipe {
  binary: string;
  start(home: string): Promise<WebServer>;
}

const RECIPES: Record<string, Recipe> = {
  'Caddy (examples/caddy/Caddyfile)': {
    binary: 'caddy',
    start: (home) => startCaddy(home, (port) => recipe('caddy/Caddyfile', home).replace(':80 {', `http://127.0.0.1:${port} {`)),
  },
  'HAProxy (examples/haproxy/haproxy.cfg)': {
    binary: 'haproxy',
    start: (home) => startHaproxy(home, (port) => recipe('haproxy/haproxy.cfg', home).replace('bind :80', `bind 127.0.0.1:${port}`)),
  },
};

describe.each(Object.entries(RECIPES))('%s', (_name, r) => {
  const ready = need(r.binary);
  let home: string;
  let project: string;
  let front: WebServer;

  /** examples/restart.sh as shipped, on the Node running the tests (its PATH would find the system's). */
  function restart(): Promise<number | null> {
    return new Promise((resolve) => {
      const child = spawn('/bin/bash', [path.join(EXAMPLES, 'restart.sh')], {
        cwd: '/',
        env: { PROJDIR: project, RUNFCGI: path.join(home, 'runfcgi'), RUNFCGI_OPTIONS: `umask=000 errlog=${home}/err.log`, PATH: process.env.PATH },
        stdio: ['ignore', 'ignore', 'inherit'],
        timeout: 60_000,
      });
      child.on('exit', (code) => resolve(code));
    });
  }
  const master = (): number => readPid(path.join(project, 'mysite.pid'));

  beforeAll(async () => {
    if (!ready) return;
    home = tempDir();
    const p = layout(home, path.join(FIXTURES, 'echo-body.mjs'));
    project = p.dir;
    fs.writeFileSync(path.join(home, 'runfcgi'), `#!/bin/sh\nexec ${process.execPath} ${p.bin} "$@"\n`, { mode: 0o755 });
    fs.mkdirSync(path.join(home, 'public_html/static'));
    fs.writeFileSync(path.join(home, 'public_html/static/site.css'), 'p { margin: 0 }\n');
    expect(await restart()).toBe(0);
    await waitForListen(path.join(project, 'mysite.sock'));
    front = await r.start(home);
  });
  afterAll(async () => {
    await front?.stop();
    try {
      const pid = master();
      process.kill(pid, 'SIGTERM');
      await waitFor(() => !running(pid), 30_000, 'runfcgi stopped');
    } catch {
      // not running
    }
    if (home) fs.rmSync(home, { recursive: true, force: true });
  });

  it.runIf(ready)('serves the app, a POST whole, and no Status header', async () => {
    // echo-body.mjs sends the body back: a GET's is empty.
    const res = await fetch(front.url('/'));
    expect([res.status, res.headers.get('content-type'), await res.text()]).toEqual([200, 'application/octet-stream', '']);
    expect(res.headers.get('status')).toBeNull();
    const post = await fetch(front.url('/whole'), { method: 'POST', body: 'abc' });
    expect(await post.text()).toBe('3 ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n');
  });

  it.runIf(ready && r.binary === 'caddy')('serves /static/ from disk', async () => {
    expect(await (await fetch(front.url('/static/site.css'))).text()).toBe('p { margin: 0 }\n');
  });

  it.runIf(ready)(`the restart script ${RESTARTS} times under POST load: no POST lost`, async () => {
    const load = keepPosting(front.url('/whole'), LANES);
    for (let i = 0; i < RESTARTS; i++) {
      const before = load.result.ok + load.result.failed;
      expect(await restart()).toBe(0);
      // Traffic through each new master, counted in requests, not time.
      await waitFor(() => load.result.ok + load.result.failed >= before + 4 * LANES, 60_000, 'POSTs after the restart');
    }
    const result = await load.stop();
    console.log(`${r.binary}: restart script x${RESTARTS} under ${LANES} POST lanes: ${result.ok} answered, ${result.failed} failed ${result.errors.slice(0, 3).join('; ')}`);
    expect(result.errors.slice(0, 5)).toEqual([]);
    expect(result.failed).toBe(0);
  });

  it.runIf(ready)(`${RELOADS} SIGHUP reloads under POST load: no POST lost`, async () => {
    const load = keepPosting(front.url('/whole'), LANES);
    const pid = master();
    for (let i = 0; i < RELOADS; i++) {
      const old = new Set(children(pid));
      const before = load.result.ok + load.result.failed;
      process.kill(pid, 'SIGHUP');
      // The reload is done when none of the old workers is left and new ones serve.
      await waitFor(() => {
        const now = children(pid);
        return now.length > 0 && now.every((w) => !old.has(w));
      }, 60_000, 'the old workers replaced');
      await waitFor(() => load.result.ok + load.result.failed >= before + 4 * LANES, 60_000, 'POSTs after the reload');
    }
    const result = await load.stop();
    console.log(`${r.binary}: ${RELOADS} SIGHUP reloads under ${LANES} POST lanes: ${result.ok} answered, ${result.failed} failed ${result.errors.slice(0, 3).join('; ')}`);
    expect(result.errors.slice(0, 5)).toEqual([]);
    expect(result.failed).toBe(0);
  });
});
