// Scenarios 3 and 5: Apache with the seed's rewrite rules (mod_proxy_fcgi), and shared hosting
// where Apache's mod_fcgid spawns runfcgi itself. Configs are the recipes in examples/.

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keepLoading, waitFor } from '../helpers/load.js';
import { needNodeForWwwData } from '../helpers/project.js';
import { FIXTURES, need, start, tempDir, waitForListen, type Started } from '../helpers/run.js';
import { layout, recipe, startApache, type WebServer } from '../helpers/servers.js';

const ECHO = path.join(FIXTURES, 'echo-app.mjs');
const hasApache = need('apache2');
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

interface Echo {
  version: string;
  method: string;
  url: string;
  scriptName: string;
  pathInfo: string;
  length: number;
  sha256: string;
}

async function echo(url: string, init?: RequestInit): Promise<Echo> {
  const res = await fetch(url, init);
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${url}: status ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as Echo;
}

describe.runIf(hasApache)('Apache with mod_proxy_fcgi and the rewrite rules (scenario 3)', () => {
  let home: string;
  let runfcgi: Started;
  let apache: WebServer;

  beforeAll(async () => {
    home = tempDir();
    layout(home, ECHO);
    const sock = path.join(home, 'myproject/mysite.sock');
    runfcgi = start(['app=./app.js', `socket=${sock}`, 'umask=000'], { cwd: path.join(home, 'myproject') });
    await waitForListen(sock);
    apache = await startApache(home, ['alias', 'rewrite', 'proxy', 'proxy_fcgi'], (port) => recipe('apache/mysite.conf', home, port));
  });
  afterAll(async () => {
    await apache?.stop();
    await runfcgi?.stop();
    fs.rmSync(home, { recursive: true, force: true });
  });

  it('gives the app the URL the browser asked for, after the rewrite to /mysite.fcgi/...', async () => {
    const r = await echo(apache.url('/hello/world?x=1'));
    expect(r).toMatchObject({ method: 'GET', url: '/hello/world?x=1', scriptName: '/mysite.fcgi', pathInfo: '/hello/world' });
    expect((await echo(apache.url('/'))).url).toBe('/');
  });

  it('serves /media from disk without the app', async () => {
    const res = await fetch(apache.url('/media/style.css'));
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('body { color: teal }\n');
  });

  it('passes a POST body whole', async () => {
    const body = Buffer.alloc(5 * 1024 * 1024, 'q');
    const r = await echo(apache.url('/upload'), { method: 'POST', body });
    expect(r).toMatchObject({ method: 'POST', url: '/upload', length: body.length, sha256: sha256(body) });
  });
});

/** Apache whose web root runs `launcher` (an examples/shared-hosting file) as mysite.fcgi. */
async function sharedHosting(home: string, launcher: string): Promise<WebServer> {
  layout(home, ECHO);
  const web = path.join(home, 'public_html');
  fs.writeFileSync(path.join(web, '.htaccess'), recipe('shared-hosting/.htaccess', home));
  fs.writeFileSync(path.join(web, 'mysite.fcgi'), recipe(launcher, home), { mode: 0o755 });
  const fcgid = path.join(home, 'apache/fcgid');
  fs.mkdirSync(fcgid, { recursive: true });
  fs.chmodSync(fcgid, 0o777);
  return startApache(home, ['rewrite', 'fcgid'], (port) => `
<VirtualHost 127.0.0.1:${port}>
  DocumentRoot ${web}
  <Directory ${web}>
    AllowOverride All
    Options +ExecCGI
    Require all granted
  </Directory>
</VirtualHost>`, `FcgidIPCDir ${fcgid}\nFcgidProcessTableFile ${fcgid}/shm\nFcgidInitialEnv PATH ${path.dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`);
}

describe.runIf(hasApache && needNodeForWwwData())('shared hosting: Apache mod_fcgid spawns runfcgi (scenario 5)', () => {
  for (const launcher of ['shared-hosting/mysite.fcgi', 'shared-hosting/mysite-js.fcgi']) {
    describe(`with ${path.basename(launcher)}`, () => {
      let home: string;
      let apache: WebServer;
      beforeAll(async () => {
        home = tempDir();
        apache = await sharedHosting(home, launcher);
      });
      afterAll(async () => {
        await apache?.stop();
        if (process.env.KEEP_LOGS) console.log(apache?.log());
        fs.rmSync(home, { recursive: true, force: true });
      });

      it('serves the app through .htaccess rewrites, with the browser URL', async () => {
        const r = await echo(apache.url('/hello/world?x=1'));
        expect(r).toMatchObject({ url: '/hello/world?x=1', pathInfo: '/hello/world' });
        const body = Buffer.alloc(100_000, 'b');
        expect(await echo(apache.url('/form'), { method: 'POST', body })).toMatchObject({ length: body.length, sha256: sha256(body) });
      });

      it('touch mysite.fcgi: the next requests run the new code, Apache untouched, no request failed', async () => {
        expect((await echo(apache.url('/v'))).version).toBe('v1');
        const traffic = keepLoading(apache.url('/v'), 2);
        const app = path.join(home, 'myproject/app.js');
        fs.writeFileSync(app, fs.readFileSync(app, 'utf8').replace("VERSION = 'v1'", "VERSION = 'v2'"));
        const later = new Date(Date.now() + 2000);
        fs.utimesSync(path.join(home, 'public_html/mysite.fcgi'), later, later);
        await waitFor(async () => (await echo(apache.url('/v'))).version === 'v2', 20_000, 'v2');
        const r = await traffic.stop();
        expect(r.errors).toEqual([]);
        expect(r.ok).toBeGreaterThan(0);
      });
    });
  }
});
