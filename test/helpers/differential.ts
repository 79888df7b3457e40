// One app two ways behind one nginx: under Node's own http.createServer (proxy_pass) and under
// runfcgi (fastcgi_pass), each on a port of its own, with what the app saw in an events file each.

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { startNginxWith } from './nginx.js';
import { FIXTURES, freePort, start, waitForListen, type Started } from './run.js';

export const DIFFERENTIAL = path.join(FIXTURES, 'differential');

export type AppEvent = { event: string } & Record<string, unknown>;

export interface Side {
  name: 'node' | 'runfcgi';
  /** The nginx port that leads to this side. */
  port: number;
  url(p: string): string;
  events(): AppEvent[];
}

/** The web server in front of both sides: one port to Node's server over HTTP, one to runfcgi. */
export interface FrontEnd {
  /** The port that leads to Node's server; `fcgiPort` leads to runfcgi. */
  port: number;
  fcgiPort: number;
  stop(): Promise<void>;
}

/** Starts a front end proxying HTTP to 127.0.0.1:`nodePort` and FastCGI to the UNIX socket `sock`. */
export type StartFrontEnd = (dir: string, nodePort: number, sock: string) => Promise<FrontEnd>;

/** nginx: proxy_pass and fastcgi_pass, both over kept-alive upstream connections. */
export const nginxFront: StartFrontEnd = async (dir, nodePort, sock) => {
  const fcgiPort = await freePort();
  const nginx = await startNginxWith(dir, (port) => `
  upstream node { server 127.0.0.1:${nodePort} max_fails=0; keepalive 16; }
  upstream app { server unix:${sock} max_fails=0; keepalive 16; }
  server {
    listen 127.0.0.1:${port};
    location / { proxy_pass http://node; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header Host $host; }
  }
  server {
    listen 127.0.0.1:${fcgiPort};
    location / { include fastcgi_params; fastcgi_pass app; fastcgi_keep_conn on; }
  }`);
  await waitForListen(fcgiPort);
  return { port: nginx.port, fcgiPort, stop: () => nginx.stop() };
};

export interface Pair {
  node: Side;
  runfcgi: Side;
  front: FrontEnd;
  nodeServer: ChildProcess;
  runfcgiServer: Started;
  /** Stops Node's server with SIGTERM (as systemd or `kill` would) and waits for its exit. */
  stopNode(): Promise<number | null>;
  stop(): Promise<void>;
}

function readEvents(file: string): AppEvent[] {
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as AppEvent);
}

/** Headers the web server sets or changes itself, whichever upstream it talks to. */
const WEB_SERVER_HEADERS = new Set(['date', 'server', 'connection', 'keep-alive', 'transfer-encoding']);

export function appHeaders(headers: Headers): [string, string][] {
  return [...headers].filter(([name]) => !WEB_SERVER_HEADERS.has(name)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Starts `app` (a file in test/fixtures/differential) both ways behind `front` (nginx by default); `args` go to runfcgi. */
export async function startPair(dir: string, app: string, args: string[] = [], front: StartFrontEnd = nginxFront): Promise<Pair> {
  const appPath = path.join(DIFFERENTIAL, app);
  const nodeEvents = path.join(dir, 'node.events');
  const fcgiEvents = path.join(dir, 'runfcgi.events');
  const nodePort = await freePort();
  const nodeServer = spawn(process.execPath, [path.join(DIFFERENTIAL, 'node-server.mjs'), appPath, String(nodePort)], {
    env: { ...process.env, EVENTS_FILE: nodeEvents },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const nodeExit = new Promise<number | null>((resolve) => nodeServer.once('exit', (code) => resolve(code)));
  const sock = path.join(dir, 'app.sock');
  const runfcgiServer = start([`app=${appPath}`, `socket=${sock}`, `env=EVENTS_FILE=${fcgiEvents}`, ...args]);
  let frontEnd: FrontEnd;
  try {
    await Promise.all([waitForListen(nodePort), waitForListen(sock)]);
    frontEnd = await front(dir, nodePort, sock);
  } catch (error) {
    // Nothing the test cannot stop may outlive a failed start.
    nodeServer.kill('SIGKILL');
    await runfcgiServer.stop();
    throw error;
  }
  const side = (name: Side['name'], port: number, file: string): Side => ({
    name,
    port,
    url: (p) => `http://127.0.0.1:${port}${p}`,
    events: () => readEvents(file),
  });
  return {
    node: side('node', frontEnd.port, nodeEvents),
    runfcgi: side('runfcgi', frontEnd.fcgiPort, fcgiEvents),
    front: frontEnd,
    nodeServer,
    runfcgiServer,
    async stopNode() {
      if (nodeServer.exitCode === null && nodeServer.signalCode === null) nodeServer.kill('SIGTERM');
      return nodeExit;
    },
    async stop() {
      await frontEnd.stop();
      nodeServer.kill('SIGKILL');
      await nodeExit;
      await runfcgiServer.stop();
    },
  };
}

/** A raw HTTP request over TCP: for HTTP/1.0, and for a client that leaves mid-request. */
export function rawRequest(port: number, text: string): { socket: net.Socket; response: Promise<string> } {
  const socket = net.connect(port, '127.0.0.1');
  let data = '';
  socket.setEncoding('latin1');
  socket.on('data', (d: string) => (data += d));
  socket.on('error', () => {});
  socket.write(text);
  const response = new Promise<string>((resolve) => socket.once('close', () => resolve(data)));
  return { socket, response };
}
