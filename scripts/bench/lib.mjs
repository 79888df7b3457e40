// Benchmark plumbing: start and stop servers, nginx in front, wrk, and memory readings from /proc.

import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '../..');
export const WORK = path.join(ROOT, '.bench');
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function waitForSocket(target, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const s = typeof target === 'number' ? net.connect(target, '127.0.0.1') : net.connect(target);
      s.once('connect', () => {
        s.destroy();
        resolve();
      });
      s.once('error', () => (Date.now() > deadline ? reject(new Error(`nothing listens on ${target}`)) : setTimeout(attempt, 20)));
    };
    attempt();
  });
}

/** A server process group: the pids of `root` and all its descendants. */
export function tree(root) {
  const children = new Map();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const ppid = Number(fs.readFileSync(`/proc/${entry}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(entry));
    } catch {}
  }
  const out = [];
  const walk = (p) => {
    out.push(p);
    for (const c of children.get(p) ?? []) walk(c);
  };
  walk(root);
  return out;
}

/** CPU time (user + system) of `pids`, in ms. */
export function cpuMs(pids) {
  let ms = 0;
  for (const pid of pids) {
    try {
      const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
      ms += ((Number(f[11]) + Number(f[12])) * 1000) / 100; // clock ticks of 10 ms
    } catch {}
  }
  return ms;
}

/** Sum of a /proc/PID/status field (kB) over `pids`, in MB. */
export function memory(pids, field = 'VmRSS') {
  let kb = 0;
  for (const pid of pids) {
    try {
      const m = new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) kb += Number(m[1]);
    } catch {}
  }
  return kb / 1024;
}

export function startProcess(command, args, options = {}) {
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true, ...options });
  let err = '';
  child.stderr?.on('data', (d) => (err = (err + d).slice(-4000)));
  const exited = new Promise((r) => child.once('exit', r));
  return {
    child,
    pids: () => tree(child.pid),
    stderr: () => err,
    async stop() {
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {}
      const timer = setTimeout(() => {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {}
      }, 5000);
      await exited;
      clearTimeout(timer);
      await sleep(100);
    },
  };
}

/** nginx with one worker in front of `upstream`; `location` is the inside of location /. */
export async function startNginx(port, upstream, location) {
  const dir = path.join(WORK, 'nginx');
  fs.mkdirSync(dir, { recursive: true });
  const conf = path.join(dir, 'nginx.conf');
  fs.writeFileSync(conf, `
${process.getuid() === 0 ? 'user root;' : ''}
daemon off; worker_processes 1; pid ${dir}/nginx.pid; error_log ${dir}/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; fastcgi_temp_path ${dir}/fastcgi; proxy_temp_path ${dir}/proxy;
  scgi_temp_path ${dir}/scgi; uwsgi_temp_path ${dir}/uwsgi;
  client_max_body_size 1g;
  ${upstream ? `upstream app { ${upstream} keepalive 32; }` : ''}
  server { listen 127.0.0.1:${port}; location / { ${location} } }
}`);
  const server = startProcess('nginx', ['-c', conf, '-p', dir, '-e', `${dir}/error.log`]);
  await waitForSocket(port);
  return server;
}

export const FASTCGI = 'include /etc/nginx/fastcgi_params; fastcgi_pass app; fastcgi_keep_conn on;';
export const PROXY = 'proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection "";';

function ms(text) {
  const m = /([\d.]+)(us|ms|s)/.exec(text);
  if (!m) return NaN;
  return Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1);
}

/** wrk against `url` (with a Lua `script` if given): requests/s, requests, p50 and p99 in ms, errors. */
export function wrk(url, { connections = 32, seconds = 5, script } = {}) {
  const scriptArgs = script ? ['-s', script] : [];
  const out = execFileSync('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', ...scriptArgs, url], { encoding: 'utf8' });
  const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const p50 = ms(/^\s+50%\s+(\S+)/m.exec(out)?.[1] ?? '');
  const p99 = ms(/^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? '');
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = non2xx + (sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
  return { rps, requests, p50, p99, errors };
}

export function median(values) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

