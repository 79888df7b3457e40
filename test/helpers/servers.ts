// Real Apache and lighttpd on loopback, with configs of the test's own in a temp directory,
// built around the recipes in examples/ (paths under /home/user moved into the temp directory).

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { installProject, type Project } from './project.js';
import { ROOT, freePort, killGroup, waitForListen, which } from './run.js';

export const EXAMPLES = path.join(ROOT, 'examples');

/** An example file with /home/user replaced by `home`, and 8081 by `port` where given. */
export function recipe(file: string, home: string, port?: number): string {
  let text = fs.readFileSync(path.join(EXAMPLES, file), 'utf8').replaceAll('/home/user', home);
  if (port !== undefined) text = text.replaceAll('8081', String(port));
  return text;
}

/**
 * The directory tree of the recipes: HOME/myproject (app.js, node_modules
 * with the packed runfcgi in it), HOME/public_html, HOME/media. Readable by
 * the web server's user (www-data as root), wherever the checkout is.
 */
export function layout(home: string, app: string): Project {
  const project = installProject(path.join(home, 'myproject'), app);
  fs.mkdirSync(path.join(home, 'public_html'));
  fs.mkdirSync(path.join(home, 'media'));
  fs.writeFileSync(path.join(home, 'media/style.css'), 'body { color: teal }\n');
  fs.writeFileSync(path.join(home, 'media/favicon.ico'), 'icon');
  for (const d of [home, project.dir, path.join(home, 'public_html'), path.join(home, 'media')]) fs.chmodSync(d, 0o777);
  return project;
}

export interface WebServer {
  port: number;
  url(p: string): string;
  log(): string;
  stop(): Promise<void>;
}

/** Runs a web server in the foreground, in its own process group; resolves once `port` listens. */
export function runServer(binary: string, args: string[], port: number, logFile: string, stopSignal: NodeJS.Signals, extraEnv: NodeJS.ProcessEnv = {}): Promise<WebServer> {
  // Its own process group: stop() can end its children too, whatever became of the parent.
  // The Node running the tests first on PATH: what the server spawns (#!/usr/bin/env node) runs on it.
  const env = { ...process.env, PATH: `${path.dirname(process.execPath)}:${process.env.PATH ?? '/usr/bin:/bin'}`, ...extraEnv };
  const child: ChildProcess = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const server: WebServer = {
    port,
    url: (p) => `http://127.0.0.1:${port}${p}`,
    log: () => output + (fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : ''),
    async stop() {
      child.kill(stopSignal);
      const late = setTimeout(() => killGroup(child.pid!), 5000);
      await exited;
      clearTimeout(late);
      killGroup(child.pid!);
    },
  };
  return waitForListen(port).then(
    () => server,
    async (error: Error) => {
      killGroup(child.pid!);
      throw new Error(`${path.basename(binary)} did not start: ${error.message}\n${server.log()}`);
    },
  );
}

const APACHE_MODULES = '/usr/lib/apache2/modules';
const asRoot = process.getuid?.() === 0;

/** Apache with `modules` loaded and `vhost` (a <VirtualHost> on the port it is given). */
export async function startApache(dir: string, modules: string[], vhost: (port: number) => string, extra = ''): Promise<WebServer> {
  const port = await freePort();
  const prefix = path.join(dir, 'apache');
  fs.mkdirSync(prefix, { recursive: true });
  fs.chmodSync(prefix, 0o777);
  const conf = path.join(prefix, 'httpd.conf');
  const load = ['mpm_event', 'authz_core', 'mime', ...modules].map((m) => `LoadModule ${m}_module ${APACHE_MODULES}/mod_${m}.so`);
  fs.writeFileSync(conf, [
    `ServerRoot ${prefix}`,
    ...load,
    'TypesConfig /etc/mime.types',
    `PidFile ${prefix}/httpd.pid`,
    `DefaultRuntimeDir ${prefix}`,
    `Mutex file:${prefix} default`,
    `ErrorLog ${prefix}/error.log`,
    'LogLevel info',
    `Listen 127.0.0.1:${port}`,
    'ServerName localhost',
    // Idle keep-alive connections stay open through a test: on a busy machine the default
    // 5 s can pass between two requests, and fetch would reuse a connection Apache is closing.
    'KeepAliveTimeout 300',
    // Apache refuses to serve as root: its workers run as www-data, as on Debian.
    asRoot ? 'User www-data\nGroup www-data' : '',
    extra,
    vhost(port),
  ].join('\n'));
  return runServer(which('apache2')!, ['-f', conf, '-DFOREGROUND'], port, `${prefix}/error.log`, 'SIGTERM');
}

/** lighttpd with `config` (a recipe from examples/) on a port of its own. */
export async function startLighttpd(dir: string, config: string, name = 'lighttpd'): Promise<WebServer> {
  const port = await freePort();
  const prefix = path.join(dir, name);
  fs.mkdirSync(prefix, { recursive: true });
  fs.chmodSync(prefix, 0o777);
  const conf = path.join(prefix, 'lighttpd.conf');
  fs.writeFileSync(conf, [
    'server.modules = ()',
    `server.bind = "127.0.0.1"`,
    `server.port = ${port}`,
    `server.pid-file = "${prefix}/lighttpd.pid"`,
    `server.errorlog = "${prefix}/error.log"`,
    // As for Apache: no closing of idle keep-alive connections (default 5 s) in the middle of a test.
    'server.max-keep-alive-idle = 300',
    asRoot ? 'server.username = "www-data"\nserver.groupname = "www-data"' : '',
    config,
  ].join('\n'));
  return runServer(which('lighttpd')!, ['-D', '-f', conf], port, `${prefix}/error.log`, 'SIGINT');
}
