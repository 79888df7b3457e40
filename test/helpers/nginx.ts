// Starts a real nginx on loopback with a config of the test's own, in a temp directory.

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { freePort, killGroup, waitForListen, which } from './run.js';

export interface Nginx {
  port: number;
  url(p: string): string;
  stop(): Promise<void>;
  errorLog(): string;
}

/**
 * `server` is the inside of the server block, without `listen`. Runs as
 * the current user (as root: `user root`, so the workers can reach the test's files).
 */
export async function startNginx(dir: string, server: string, http = ''): Promise<Nginx> {
  return startNginxWith(dir, (port) => `
  ${http}
  server {
    listen 127.0.0.1:${port};
    ${server}
  }`);
}

/** A location's lines passing requests to the `app` upstream over kept-alive connections. */
export const FASTCGI_TO_APP = 'include /etc/nginx/fastcgi_params; fastcgi_pass app; fastcgi_keep_conn on;';

/**
 * nginx in front of runfcgi at `target` (unix:/path or host:port): every
 * request goes to it over kept-alive connections. `location` adds lines to
 * location /, `server` adds locations of its own. max_fails=0: a test that
 * stops runfcgi must not leave nginx counting the upstream as down for the next.
 */
export function nginxInFront(dir: string, target: string, extra: { location?: string; server?: string } = {}): Promise<Nginx> {
  return startNginx(
    dir,
    `location / { ${FASTCGI_TO_APP} ${extra.location ?? ''} }
    ${extra.server ?? ''}`,
    `upstream app { server ${target} max_fails=0; keepalive 16; }`,
  );
}

/** The hard open-files limit: nginx, not root here, may not raise its own past it. */
function hardOpenFiles(): number {
  const m = /^Max open files\s+\d+\s+(\d+)/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'));
  return m ? Number(m[1]) : 1024;
}

/**
 * nginx with `http(port)` as the inside of its http block. `include
 * fastcgi_params` and `scgi_params` find Debian's copies beside the config.
 */
export async function startNginxWith(dir: string, http: (port: number) => string, tuning: { workerConnections?: number } = {}): Promise<Nginx> {
  const connections = tuning.workerConnections ?? 1024;
  const port = await freePort();
  const prefix = path.join(dir, 'nginx');
  fs.mkdirSync(prefix, { recursive: true });
  for (const params of ['fastcgi_params', 'scgi_params']) fs.copyFileSync(`/etc/nginx/${params}`, path.join(prefix, params));
  const conf = path.join(prefix, 'nginx.conf');
  fs.writeFileSync(conf, `
${process.getuid?.() === 0 ? 'user root;' : ''}
daemon off;
worker_processes 1;
# Each client connection may hold an upstream one as well.
worker_rlimit_nofile ${Math.min(2 * connections + 64, hardOpenFiles())};
# A graceful stop waits for open connections at most this long: no worker outlives its test.
worker_shutdown_timeout 2s;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log info;
events { worker_connections ${connections}; }
http {
  access_log off;
  client_body_temp_path ${prefix}/body;
  fastcgi_temp_path ${prefix}/fastcgi;
  proxy_temp_path ${prefix}/proxy;
  scgi_temp_path ${prefix}/scgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  client_max_body_size 200m;
  ${http(port)}
}
`);
  // Its own process group: stop() can end the workers too, whatever became of the master.
  const child: ChildProcess = spawn(which('nginx')!, ['-c', conf, '-p', prefix, '-e', `${prefix}/error.log`], { stdio: 'ignore', detached: true });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await waitForListen(port);
  return {
    port,
    url: (p) => `http://127.0.0.1:${port}${p}`,
    errorLog: () => fs.readFileSync(`${prefix}/error.log`, 'utf8'),
    async stop() {
      child.kill('SIGQUIT');
      const late = setTimeout(() => killGroup(child.pid!), 5000);
      await exited;
      clearTimeout(late);
      killGroup(child.pid!);
    },
  };
}
