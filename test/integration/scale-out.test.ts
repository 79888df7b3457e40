// Scenario 7: one nginx in front of runfcgi on two hosts, the hosts being network namespaces
// made here (ip netns, veth pairs). Traffic stays inside them. Needs root (CI has it).

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request as fcgiRequest } from '../helpers/fcgi-records.js';
import { waitFor } from '../helpers/load.js';
import { BIN, FIXTURES, killGroup, need, needRoot, tempDir, which } from '../helpers/run.js';
import { recipe } from '../helpers/servers.js';

const asRoot = needRoot('the scale-out tests (network namespaces)');

const tag = `rf${process.pid % 100000}`;
const WEB = `${tag}-web`;
const HOSTS = [
  { ns: `${tag}-app1`, web: '10.231.1.1', app: '10.231.1.2', id: 'app1' },
  { ns: `${tag}-app2`, web: '10.231.2.1', app: '10.231.2.2', id: 'app2' },
];
/** A second address of the web host, which the access list does not name. */
const OUTSIDER = '10.231.1.3';

function ip(...args: string[]): void {
  execFileSync(which('ip')!, args, { stdio: 'pipe' });
}

function inNs(ns: string, command: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  // Its own process group, so that afterAll ends nginx's worker with its master.
  return spawn(which('ip')!, ['netns', 'exec', ns, command, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env, detached: true });
}

describe.runIf(asRoot && need('ip') && need('nginx'))('one nginx over runfcgi on two hosts (network namespaces)', () => {
  let dir: string;
  let nginxSock: string;
  const apps: ChildProcess[] = [];
  let nginx: ChildProcess | undefined;

  beforeAll(async () => {
    dir = tempDir();
    for (const ns of [WEB, ...HOSTS.map((h) => h.ns)]) {
      ip('netns', 'add', ns);
      ip('-n', ns, 'link', 'set', 'lo', 'up');
    }
    HOSTS.forEach((h, i) => {
      const [a, b] = [`${tag}w${i}`, `${tag}a${i}`];
      ip('link', 'add', a, 'netns', WEB, 'type', 'veth', 'peer', 'name', b, 'netns', h.ns);
      ip('-n', WEB, 'addr', 'add', `${h.web}/24`, 'dev', a);
      ip('-n', h.ns, 'addr', 'add', `${h.app}/24`, 'dev', b);
      ip('-n', WEB, 'link', 'set', a, 'up');
      ip('-n', h.ns, 'link', 'set', b, 'up');
    });
    ip('-n', WEB, 'addr', 'add', `${OUTSIDER}/24`, 'dev', `${tag}w0`);
    for (const h of HOSTS) {
      const env = { ...process.env, FCGI_WEB_SERVER_ADDRS: h.web };
      apps.push(inNs(h.ns, process.execPath, [BIN, `app=${path.join(FIXTURES, 'control-app.mjs')}`, `host=${h.app}`, 'port=9000', 'daemonize=false', `env=HOST_ID=${h.id}`], env));
    }
    // The recipe's addresses become the namespaces'; nginx listens on a UNIX socket the test reaches.
    nginxSock = path.join(dir, 'nginx.sock');
    const conf = recipe('nginx/scale-out.conf', dir)
      .replace('10.0.0.11:9000', `${HOSTS[0]!.app}:9000`)
      .replace('10.0.0.12:9000', `${HOSTS[1]!.app}:9000`)
      .replace('listen 80;', `listen unix:${nginxSock};`)
      .replace('include fastcgi_params;', 'include /etc/nginx/fastcgi_params;');
    const prefix = path.join(dir, 'nginx');
    fs.mkdirSync(prefix);
    fs.writeFileSync(path.join(prefix, 'nginx.conf'), `user root; daemon off; worker_processes 1; pid ${prefix}/nginx.pid; error_log ${prefix}/error.log;
events { worker_connections 1024; }
http { access_log off; client_body_temp_path ${prefix}/b; fastcgi_temp_path ${prefix}/f; proxy_temp_path ${prefix}/p; scgi_temp_path ${prefix}/s; uwsgi_temp_path ${prefix}/u;
${conf}
}`);
    await waitFor(() => HOSTS.every((h) => {
      try {
        execFileSync(which('ip')!, ['netns', 'exec', WEB, 'bash', '-c', `exec 3<>/dev/tcp/${h.app}/9000`], { stdio: 'pipe' });
        return true;
      } catch {
        return false;
      }
    }), 30_000, 'both hosts listening');
    nginx = inNs(WEB, which('nginx')!, ['-c', path.join(prefix, 'nginx.conf'), '-p', prefix, '-e', `${prefix}/error.log`]);
    await waitFor(() => fs.existsSync(nginxSock), 30_000, 'nginx');
  });

  afterAll(async () => {
    for (const child of [nginx, ...apps]) if (child?.pid !== undefined) killGroup(child.pid);
    await new Promise((r) => setTimeout(r, 300));
    for (const ns of [WEB, ...HOSTS.map((h) => h.ns)]) {
      try {
        ip('netns', 'del', ns);
      } catch {
        // already gone
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function get(p: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve) => {
      const req = http.get({ socketPath: nginxSock, path: p, agent: false }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', () => resolve({ status: 0, body: '' }));
    });
  }

  it('spreads requests over both hosts', async () => {
    const seen = new Map<string, number>();
    for (let i = 0; i < 60; i++) {
      const r = await get('/host');
      expect(r.status).toBe(200);
      seen.set(r.body.trim(), (seen.get(r.body.trim()) ?? 0) + 1);
    }
    expect([...seen.keys()].sort()).toEqual(['app1', 'app2']);
  });

  it('closes a connection from an address outside FCGI_WEB_SERVER_ADDRS', async () => {
    // From the web host's second address, straight to app1's runfcgi.
    const probe = `
      const net = require('net');
      const c = net.connect({ host: '${HOSTS[0]!.app}', port: 9000, localAddress: process.argv[1] }, () => c.write(Buffer.from(process.argv[2], 'base64')));
      let n = 0; c.on('data', (d) => (n += d.length)); c.on('close', () => console.log(n)); c.on('error', () => {});`;
    const record = fcgiRequest(1, { REQUEST_METHOD: 'GET', REQUEST_URI: '/host' }, '', false).toString('base64');
    const bytesFrom = (address: string): number =>
      Number(execFileSync(which('ip')!, ['netns', 'exec', WEB, process.execPath, '-e', probe, address, record], { encoding: 'utf8' }).trim());
    expect(bytesFrom(HOSTS[0]!.web)).toBeGreaterThan(0);
    expect(bytesFrom(OUTSIDER)).toBe(0);
  });

  it('fails over when one host is killed mid-load', async () => {
    let ok = 0;
    let failed = 0;
    let running = true;
    const lanes = Array.from({ length: 4 }, async () => {
      while (running) {
        const r = await get('/host');
        if (r.status === 200) ok++;
        else failed++;
      }
    });
    // Counted in requests, not in time: 25 answered before the kill, 50 after it.
    await waitFor(() => ok >= 25, 30_000, '25 requests before the kill');
    apps[0]!.kill('SIGKILL');
    const killedAt = ok;
    await waitFor(() => ok >= killedAt + 50, 30_000, '50 requests after the kill');
    running = false;
    await Promise.all(lanes);
    const after = await get('/host');
    console.log(`fail-over: ${ok} requests answered, ${failed} failed while app1 was killed`);
    expect(after.body.trim()).toBe('app2');
    expect(failed).toBe(0);
  });
});
