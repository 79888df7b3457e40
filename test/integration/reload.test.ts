// Graceful reload: SIGHUP and touchreload= start fresh workers with the code on disk; nothing is dropped.

import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { keepLoading, waitFor } from '../helpers/load.js';
import { nginxInFront, type Nginx } from '../helpers/nginx.js';
import { need, start, tempDir, waitForListen, type Started } from '../helpers/run.js';

const hasNginx = need('nginx');

function writeApp(file: string, version: string): void {
  fs.writeFileSync(file, `export default (req, res) => res.end('${version}\\n');\n`);
}

describe.runIf(hasNginx).each(['prefork', 'threaded'] as const)('reload, method=%s', (method) => {
  let dir: string;
  let sock: string;
  let nginx: Nginx;
  let server: Started | undefined;

  beforeAll(async () => {
    dir = tempDir();
    sock = path.join(dir, 'app.sock');
    nginx = await nginxInFront(dir, `unix:${sock}`);
  });
  afterAll(async () => {
    await nginx?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  afterEach(async () => {
    // Gracefully: nginx then drops its idle keepalive connections instead of finding them dead.
    await server?.stop('SIGINT');
  });

  async function version(): Promise<string> {
    return (await (await fetch(nginx.url('/'))).text()).trim();
  }

  it('SIGHUP serves the new code with no failed request under load', async () => {
    // A fresh file name per test: import() caches by URL within one process (threads share it).
    const app = path.join(dir, `app-hup.mjs`);
    writeApp(app, 'v1');
    server = start([`app=${app}`, `socket=${sock}`, `method=${method}`, 'umask=000']);
    await waitForListen(sock);
    expect(await version()).toBe('v1');
    const traffic = keepLoading(nginx.url('/'), 8);
    writeApp(app, 'v2');
    server.child.kill('SIGHUP');
    await waitFor(async () => (await version()) === 'v2', 30_000, 'v2 served');
    // Traffic goes on through the reload: counted in requests, not in time (over 50, 20 of them after v2).
    const served = traffic.result.ok;
    await waitFor(() => traffic.result.ok >= Math.max(51, served + 20), 30_000, 'over 50 requests, 20 after the reload');
    const r = await traffic.stop();
    expect(r.failed, r.errors.slice(0, 5).join('\n')).toBe(0);
  });

  it('touchreload=FILE reloads when the file is touched', async () => {
    const app = path.join(dir, `app-touch.mjs`);
    const touch = path.join(dir, 'mysite.fcgi');
    fs.writeFileSync(touch, '');
    writeApp(app, 'before');
    server = start([`app=${app}`, `socket=${sock}`, `method=${method}`, 'umask=000', `touchreload=${touch}`]);
    await waitForListen(sock);
    expect(await version()).toBe('before');
    writeApp(app, 'after');
    const later = new Date(Date.now() + 5000);
    fs.utimesSync(touch, later, later);
    await waitFor(async () => (await version()) === 'after', 30_000, 'the new code');
  });
});
