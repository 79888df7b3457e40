// Scenario 4: lighttpd with the seed's config, one site and two sites chosen by Host, and
// lighttpd spawning runfcgi itself (bin-path, max-procs). Configs are the recipes in examples/.

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cgiFcgi } from '../helpers/cgi-fcgi.js';
import { needNodeForWwwData } from '../helpers/project.js';
import { FIXTURES, need, start, tempDir, waitForListen, type Started } from '../helpers/run.js';
import { layout, recipe, startLighttpd, type WebServer } from '../helpers/servers.js';

const ECHO = path.join(FIXTURES, 'echo-app.mjs');
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** A request with a Host header of our choosing (fetch does not let one set Host). */
function get(port: number, target: string, host: string, body?: Buffer): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: target, method: body ? 'POST' : 'GET', headers: { host } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function json(port: number, target: string, host = 'example.com', body?: Buffer): Promise<Record<string, unknown>> {
  const r = await get(port, target, host, body);
  if (r.status !== 200) throw new Error(`${target}: status ${r.status}: ${r.text.slice(0, 200)}`);
  return JSON.parse(r.text) as Record<string, unknown>;
}

describe.runIf(need('lighttpd'))('lighttpd', () => {
  describe('with runfcgi as an external server, one site and a second chosen by Host', () => {
    let home: string;
    const servers: Started[] = [];
    let lighttpd: WebServer;

    beforeAll(async () => {
      home = tempDir();
      layout(home, ECHO);
      const site2 = path.join(home, 'site2');
      fs.mkdirSync(site2);
      fs.writeFileSync(path.join(site2, 'app.mjs'), fs.readFileSync(ECHO, 'utf8').replace("VERSION = 'v1'", "VERSION = 'site2'"));
      for (const [dir, app] of [[path.join(home, 'myproject'), './app.js'], [site2, './app.mjs']] as const) {
        const sock = path.join(dir, 'mysite.sock');
        servers.push(start([`app=${app}`, `socket=${sock}`, 'umask=000'], { cwd: dir }));
        await waitForListen(sock);
      }
      lighttpd = await startLighttpd(home, recipe('lighttpd/lighttpd.conf', home));
    });
    afterAll(async () => {
      await lighttpd?.stop();
      for (const s of servers) await s.stop();
      fs.rmSync(home, { recursive: true, force: true });
    });

    it('gives the app the URL the browser asked for, after the rewrite to /mysite.fcgi/...', async () => {
      expect(await json(lighttpd.port, '/hello/world?x=1')).toMatchObject({ version: 'v1', url: '/hello/world?x=1', scriptName: '/mysite.fcgi', pathInfo: '/hello/world' });
      expect(await json(lighttpd.port, '/')).toMatchObject({ url: '/' });
    });

    it('serves /media and the favicon from disk without the app', async () => {
      expect(await get(lighttpd.port, '/media/style.css', 'example.com')).toEqual({ status: 200, text: 'body { color: teal }\n' });
      expect(await get(lighttpd.port, '/favicon.ico', 'example.com')).toEqual({ status: 200, text: 'icon' });
    });

    it('passes a POST body whole', async () => {
      const body = Buffer.alloc(3 * 1024 * 1024, 'l');
      expect(await json(lighttpd.port, '/upload', 'example.com', body)).toMatchObject({ method: 'POST', length: body.length, sha256: sha256(body) });
    });

    it('sends www.example2.com to the second runfcgi instance', async () => {
      expect(await json(lighttpd.port, '/a?b=c', 'www.example2.com')).toMatchObject({ version: 'site2', url: '/a?b=c', host: 'www.example2.com' });
      expect(await json(lighttpd.port, '/a', 'example.com')).toMatchObject({ version: 'v1' });
    });
  });

  describe.runIf(needNodeForWwwData())('spawning runfcgi itself (bin-path, max-procs) with the socket on fd 0', () => {
    let home: string;
    let lighttpd: WebServer;

    beforeAll(async () => {
      home = tempDir();
      layout(home, ECHO);
      fs.writeFileSync(path.join(home, 'myproject/mysite.fcgi'), recipe('shared-hosting/mysite.fcgi', home), { mode: 0o755 });
      lighttpd = await startLighttpd(home, recipe('lighttpd/lighttpd-spawn.conf', home));
    });
    afterAll(async () => {
      await lighttpd?.stop();
      fs.rmSync(home, { recursive: true, force: true });
    });

    it('serves through the processes lighttpd started, one per max-procs', async () => {
      for (let i = 0; i < 10; i++) {
        expect((await json(lighttpd.port, `/spawned/${i}?n=${i}`)).url).toBe(`/spawned/${i}?n=${i}`);
      }
      // lighttpd gives each process its own socket: SOCKET-0, SOCKET-1.
      const sock = path.join(home, 'myproject/lighttpd-spawned.sock');
      const pids = new Set<string>();
      for (const n of [0, 1]) {
        const r = await cgiFcgi(`${sock}-${n}`, { REQUEST_URI: '/direct' });
        pids.add(String((JSON.parse(r.body.toString()) as { pid: number }).pid));
      }
      expect(pids.size).toBe(2);
    });
  });
});
