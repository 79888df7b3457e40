// protocol=scgi behind nginx (scgi_pass) and Apache (mod_proxy_scgi); FCGI_WEB_SERVER_ADDRS over
// TCP; systemd socket activation (LISTEN_FDS) with the real systemd-socket-activate.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cgiFcgi } from '../helpers/cgi-fcgi.js';
import { request } from '../helpers/fcgi-records.js';
import { waitFor } from '../helpers/load.js';
import { startNginx, type Nginx } from '../helpers/nginx.js';
import { BIN, FIXTURES, freePort, need, runSync, start, tempDir, waitForListen, which, type Started } from '../helpers/run.js';
import { startApache, type WebServer } from '../helpers/servers.js';

const EXPRESS = path.join(FIXTURES, 'express-app.mjs');
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const MB5 = 5 * 1024 * 1024;
const upload = Buffer.alloc(MB5, 's');

function pattern(size: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i % 65536) % 251;
  return b;
}

describe('protocol=scgi', () => {
  let dir: string;
  let sock: string;
  let server: Started;
  beforeAll(async () => {
    dir = tempDir();
    sock = path.join(dir, 'scgi.sock');
    server = start(['protocol=scgi', `app=${EXPRESS}`, `socket=${sock}`, 'umask=000']);
    await waitForListen(sock);
  });
  afterAll(async () => {
    expect(await server.stop()).toBe(0);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function exercise(url: (p: string) => string): Promise<void> {
    const hello = (await (await fetch(url('/hello?x=1'))).json()) as Record<string, unknown>;
    expect(hello).toMatchObject({ url: '/hello?x=1', query: { x: '1' } });
    const up = (await (await fetch(url('/upload'), { method: 'POST', body: upload })).json()) as Record<string, unknown>;
    expect(up).toEqual({ length: MB5, sha256: sha256(upload) });
    const big = Buffer.from(await (await fetch(url(`/big?size=${MB5}`))).arrayBuffer());
    expect(sha256(big)).toBe(sha256(pattern(MB5)));
    const cookies = await fetch(url('/cookies'));
    expect(cookies.headers.getSetCookie().map((c) => c.split(';')[0])).toEqual(['a=1', 'b=2']);
    expect((await fetch(url('/teapot'))).status).toBe(418);
  }

  describe.runIf(need('nginx'))('behind nginx scgi_pass', () => {
    let nginx: Nginx;
    beforeAll(async () => {
      nginx = await startNginx(dir, `location / { include /etc/nginx/scgi_params; scgi_pass unix:${sock}; }`);
    });
    afterAll(async () => {
      await nginx?.stop();
    });
    it('serves GET, a 5 MB POST, a 5 MB streamed response, cookies and statuses', async () => {
      await exercise(nginx.url);
    });
  });

  describe.runIf(need('apache2'))('behind Apache mod_proxy_scgi', () => {
    let apache: WebServer;
    beforeAll(async () => {
      apache = await startApache(dir, ['proxy', 'proxy_scgi'], (port) => `
<VirtualHost 127.0.0.1:${port}>
  ProxyPass "/" "unix:${sock}|scgi://localhost/"
</VirtualHost>`);
    });
    afterAll(async () => {
      await apache?.stop();
    });
    it('serves GET, a 5 MB POST, a 5 MB streamed response, cookies and statuses', async () => {
      await exercise(apache.url);
    });
  });

  it('closes a connection that sends a malformed netstring, and serves the next', async () => {
    const bad = net.connect(sock);
    bad.write('xyz:');
    await new Promise((r) => bad.once('close', r));
    await waitFor(() => server.output().includes('bad netstring length'), 30_000, 'the log line');
    const res = await new Promise<string>((resolve) => {
      const c = net.connect(sock, () => c.write('52:CONTENT_LENGTH\x000\x00SCGI\x001\x00REQUEST_METHOD\x00GET\x00REQUEST_URI\x00/\x00,'.replace('52', String('CONTENT_LENGTH\x000\x00SCGI\x001\x00REQUEST_METHOD\x00GET\x00REQUEST_URI\x00/\x00'.length))));
      let out = '';
      c.on('data', (d) => (out += d));
      c.on('end', () => resolve(out));
    });
    // A 200 OK goes without a Status line (CGI's default): the head starts with the app's headers.
    expect(res).not.toMatch(/^status:/i);
    expect(res).toMatch(/^content-type: text\/html/im);
    expect(res).toContain('home');
  });
});

describe('FCGI_WEB_SERVER_ADDRS', () => {
  let server: Started | undefined;
  afterEach(async () => {
    await server?.stop();
  });

  /** A FastCGI GET from a chosen loopback address; resolves with what came back before the close. */
  function getFrom(port: number, localAddress: string): Promise<string> {
    return new Promise((resolve) => {
      const c = net.connect({ host: '127.0.0.1', port, localAddress }, () => c.write(request(1, { REQUEST_METHOD: 'GET', REQUEST_URI: '/' }, '', false)));
      let out = '';
      c.on('data', (d: Buffer) => (out += d.toString('latin1')));
      c.on('close', () => resolve(out));
      c.on('error', () => {});
    });
  }

  it('serves TCP connections from the listed addresses and closes the others at once, with a log line', async () => {
    const port = await freePort();
    server = start([`app=${EXPRESS}`, 'host=127.0.0.1', `port=${port}`], { env: { ...process.env, FCGI_WEB_SERVER_ADDRS: '127.0.0.2, ::1' } });
    await waitForListen(port);
    expect(await getFrom(port, '127.0.0.2')).toContain('home');
    expect(await getFrom(port, '127.0.0.1')).toBe('');
    await waitFor(() => /"remote":"127\.0\.0\.1".*connection refused: not in FCGI_WEB_SERVER_ADDRS/.test(server!.output()), 30_000, 'log line');
  });

  it('refuses to start with a bad list, naming the bad entry (exit 2)', () => {
    const r = runSync(['daemonize=false', 'host=127.0.0.1', 'port=1'], { env: { ...process.env, FCGI_WEB_SERVER_ADDRS: '127.0.0.1,webserver' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^runfcgi: FCGI_WEB_SERVER_ADDRS: 'webserver' is not an IPv4 or IPv6 address/);
  });
});

describe.runIf(need('systemd-socket-activate'))('systemd socket activation (LISTEN_FDS)', () => {
  it('serves the socket systemd passes on fd 3 with method=prefork', async () => {
    const dir = tempDir();
    const sock = path.join(dir, 'activated.sock');
    const child = spawn(which('systemd-socket-activate')!, ['-l', sock, process.execPath, BIN, `app=${EXPRESS}`, 'daemonize=false', 'method=prefork'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    try {
      await waitForListen(sock);
      // systemd-socket-activate starts runfcgi on the first connection, as systemd does.
      const r = await cgiFcgi(sock, { REQUEST_URI: '/hello?via=systemd' });
      expect(JSON.parse(r.body.toString())).toMatchObject({ url: '/hello?via=systemd' });
      await waitFor(() => output.includes('"address":"fd 3 (systemd)"'), 30_000, 'the systemd address in the log');
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
