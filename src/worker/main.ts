// Runs inside a worker, process or thread: load the app, serve the listening socket (fd 5, or a thread's fd 0), report to the master.

import net from 'node:net';
import { Worker, isMainThread, parentPort, threadId, workerData } from 'node:worker_threads';
import { WEB_SERVER_ADDRS, webServerCheck } from '../shared/access-list.js';
import { installFastResponse } from '../adapter/fast-response.js';
import { loadApp, type AppHooks } from '../adapter/load.js';
import { appShutdown, holdGroupSignals, ignoreSignal } from './app-shutdown.js';
import type { AdapterOptions, RequestHandler } from '../adapter/types.js';
import { requestUrl } from '../protocol/cgi.js';
import type { GatewayRequest } from '../adapter/types.js';
import { EXIT_APP_LOAD, EXIT_WORKER_BOOT, RunfcgiError } from '../shared/errors.js';
import { APPLOG_LOG_FD, createLogger, lazyLogger, logDestination, useStderrFd, type LogDestination, type Logger } from '../shared/log.js';
import { HEARTBEAT_MS, INIT_ENV, WORKER_LISTEN_FD, isOurs, tag, type ToMaster, type ToWorker, type WorkerInit } from '../shared/messages.js';
import { MB, MemoryWatch } from './memory.js';
import { serve, type Serving } from './serve.js';
import { canPass, connectLink, leavingHow } from './hand-off.js';
import { listenPrivately, Router } from './sticky/router.js';
import { withManagement } from './status-page.js';
import { withHeadLimit } from '../adapter/head-limit.js';
import type { PoolStatus } from '../shared/pool-status.js';

interface Channel {
  send(message: ToMaster): void;
  /** `handle`: a socket sent along with the message (processes only). */
  onMessage(listener: (message: unknown, handle?: unknown) => void): void;
}

const channel: Channel = isMainThread
  ? { send: (m) => void process.send?.(m), onMessage: (l) => void process.on('message', l) }
  : { send: (m) => parentPort!.postMessage(m), onMessage: (l) => void parentPort!.on('message', l) };

function readInit(): WorkerInit {
  if (!isMainThread) return workerData as WorkerInit;
  const text = process.env[INIT_ENV];
  delete process.env[INIT_ENV];
  if (text === undefined) throw new Error(`runfcgi worker started without ${INIT_ENV}: workers are started by the master`);
  return JSON.parse(text) as WorkerInit;
}

/**
 * A process worker whose master is gone must go too, even while its event
 * loop is blocked by the app: a tiny thread watches the parent pid. It is
 * started once the worker serves: booting a thread costs as much CPU as the
 * rest of the worker's boot, and until then 'disconnect' covers a lost
 * master (the app's load ends, then the lost IPC channel is seen).
 */
function watchMaster(): void {
  const code = `
    const ppid = process.ppid;
    setInterval(() => { if (process.ppid !== ppid) process.kill(process.pid, 'SIGKILL'); }, 250);
  `;
  new Worker(code, { eval: true }).unref();
}

function bootFailure(exitCode: number, message: string): never {
  channel.send(tag<ToMaster>({ type: 'bootError', exitCode, message }));
  // Let the message leave before the process (or thread) ends.
  setTimeout(() => process.exit(exitCode), 50);
  throw new RunfcgiError(message, exitCode);
}

/**
 * The listening socket: a process has it on WORKER_LISTEN_FD (see there why
 * not fd 0), a thread serves the master's fd 0. backlog=: Node would listen
 * with 511, even on a socket a web server bound with more (spawn-fcgi -b).
 */
function listenOnSocket(backlog: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer({ allowHalfOpen: true });
    server.once('error', reject);
    // Positional: Node reads { fd, backlog }'s backlog only for paths and ports, not for a descriptor.
    server.listen({ fd: isMainThread ? WORKER_LISTEN_FD : 0 }, backlog, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

/**
 * pm=ondemand: the connection that woke the pool was accepted by the master;
 * or a leaving worker gave a kept-alive one away, with the bytes it had read
 * (`rest`, base64), as a bare handle. Served here as if this worker had accepted it.
 */
function adopt(serving: Serving, fd: number | undefined, handle: unknown, rest: string | undefined): void {
  let socket: net.Socket | undefined;
  if (handle instanceof net.Socket) socket = handle;
  // Node's own option for a socket over a handle it got (undocumented, as child_process uses it).
  else if (handle !== undefined && handle !== null) socket = new net.Socket({ handle, readable: true, writable: true, allowHalfOpen: true } as net.SocketConstructorOpts);
  else if (fd !== undefined) socket = new net.Socket({ fd, readable: true, writable: true, allowHalfOpen: true });
  if (socket === undefined) return;
  // As the server's own connections are (net.createServer({ allowHalfOpen: true })).
  socket.allowHalfOpen = true;
  serving.adopt(socket, rest === undefined ? undefined : Buffer.from(rest, 'base64'));
}

/**
 * pm=ondemand on a systemd socket: the master needs a copy of the socket on
 * its fd 0 (see ondemand.ts), and Node has no dup(). A descriptor sent over
 * IPC lands on the lowest free one of the receiver. Our server's own handle
 * goes as a bare handle ('net.Native'), which Node neither closes here nor
 * listens on there.
 */
function giveSocket(server: net.Server): void {
  const handle = (server as unknown as { _handle?: object })._handle;
  if (handle !== undefined && process.send) process.send(tag<ToMaster>({ type: 'socket' }), handle as net.Server);
}

let leaving = false;

/**
 * Stop accepting, finish within graceMs, let the app clean up (its close()
 * export, SIGTERM) within graceMs more, and exit.
 */
async function leave(serving: Serving, graceMs: number, hooks: AppHooks, log: Logger, handOff: boolean): Promise<void> {
  if (leaving) return;
  leaving = true;
  const done = serving.stop(graceMs, leavingHow(handOff, log));
  // The listening socket is out of this worker's event loop now. A process
  // let go of its copy with the server (libuv closes a descriptor above 2), so
  // a new master can bind the port; threads share fd 0 with the master, which
  // closes it once every thread said so.
  channel.send(tag<ToMaster>({ type: 'released' }));
  await done;
  logPeak(log);
  await appShutdown({ close: hooks.close, limitMs: graceMs, log, release: releaseLoop });
  process.exit(0);
}

let heartbeatTimer: NodeJS.Timeout | undefined;
let memory: MemoryWatch | undefined;

/**
 * Once its requests are done, how much memory the worker held at most: with
 * maxmemory=, how far past the limit it went before its requests ended.
 */
function logPeak(log: Logger): void {
  if (memory === undefined) return;
  const fields = { peakMb: Math.round(memory.peakBytes() / MB), maxmemory: memory.limitMb };
  if (memory.limitMb > 0) log.info(fields, 'worker leaving: its requests are done');
  else log.debug(fields, 'worker leaving: its requests are done');
}

/** While the app cleans up, only its own handles keep the process alive (heartbeats go on meanwhile). */
function releaseLoop(): void {
  heartbeatTimer?.unref();
  process.channel?.unref();
}

function heartbeat(serving: Serving, watch: MemoryWatch): void {
  let last = performance.now();
  let beats = 0;
  let held = watch.measure();
  heartbeatTimer = setInterval(() => {
    const now = performance.now();
    const lagMs = Math.max(0, Math.round(now - last - HEARTBEAT_MS));
    last = now;
    channel.send(tag<ToMaster>({
      type: 'heartbeat',
      active: serving.activeRequests,
      served: serving.accepted,
      lagMs,
      slow: serving.slowRequests,
      timedOut: serving.timedOutRequests,
      aborted: serving.abortedRequests,
      oldest: serving.oldest(),
      memory: beats++ % 10 === 0 ? (held = watch.measure()) : held,
    }));
  }, HEARTBEAT_MS);
}

/** The status page's data comes from the master, which sees every worker. */
const snapshotWaiters = new Map<number, (status: PoolStatus) => void>();
let snapshotIds = 0;

function askPoolSnapshot(full: boolean): Promise<PoolStatus> {
  return new Promise((resolve, reject) => {
    const id = ++snapshotIds;
    snapshotWaiters.set(id, resolve);
    channel.send(tag<ToMaster>({ type: 'status-request', id, full }));
    setTimeout(() => {
      if (snapshotWaiters.delete(id)) reject(new Error('the master did not answer'));
    }, 2000).unref();
  });
}

/** accesslog=: one JSON line per response. */
function accessLogger(init: WorkerInit): { access: AdapterOptions['access']; destination: LogDestination | undefined } {
  const file = init.options.accesslog;
  if (file === undefined) return { access: undefined, destination: undefined };
  const destination = logDestination(file, 'accesslog');
  const log = lazyLogger({ base: { worker: init.id }, messageKey: 'msg' }, destination);
  const access = (request: GatewayRequest, status: number): void => {
    const p = request.params;
    log.info({ method: p.REQUEST_METHOD ?? 'GET', uri: requestUrl(p), status, bytes: request.bytesOut, ms: Math.round((performance.now() - request.startedAt) * 100) / 100 }, 'request');
  };
  return { access, destination };
}

async function loadHandler(init: WorkerInit, log: Logger, access: AdapterOptions['access'], hooks: AppHooks): Promise<RequestHandler> {
  try {
    // Asked for: before the app loads, so that what it takes of the global Response at load time is ours too.
    if (init.options.fastresponse === true) installFastResponse();
    const handler = await loadApp(init.options.app, { debug: init.options.debug, log, access }, init.options.cwd, hooks);
    // By default a fetch handler gets it once loaded, as @hono/node-server swaps its light
    // Response in when serve() is called; a (req, res) app keeps Node's own globals.
    if (init.options.fastresponse === undefined && hooks.fetch === true) installFastResponse();
    return handler;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return bootFailure(error instanceof RunfcgiError ? error.exitCode : EXIT_APP_LOAD, message);
  }
}

async function main(): Promise<void> {
  const init = readInit();
  if (isMainThread) {
    process.title = `runfcgi: worker ${init.id}`;
    process.on('disconnect', () => process.exit(0));
    // Ctrl+C reaches the whole process group, systemd may signal the whole
    // cgroup: the master decides how workers stop (or its loss ends them).
    // The app hears SIGTERM once its worker's requests are done (app-shutdown.ts).
    holdGroupSignals();
    for (const signal of ['SIGUSR1', 'SIGUSR2', 'SIGTTIN', 'SIGTTOU'] as const) process.on(signal, ignoreSignal);
  }
  const { options } = init;
  // applog=json: our fd 1 and 2 are the app's, turned into records by the master; our own lines go around them.
  if (isMainThread && options.applog === 'json') useStderrFd(APPLOG_LOG_FD);
  let logs: LogDestination;
  try {
    logs = logDestination(options.errlog);
  } catch (error) {
    // Said to the master, which stops the start with it: a worker that only threw here waited for starttimeout.
    return bootFailure(EXIT_WORKER_BOOT, (error as Error).message);
  }
  const log = createLogger({ worker: init.id }, options.loglevel, logs);
  let accessLog: ReturnType<typeof accessLogger>;
  try {
    accessLog = accessLogger(init);
  } catch (error) {
    return bootFailure(EXIT_WORKER_BOOT, (error as Error).message);
  }
  const hooks: AppHooks = {};
  const app = await loadHandler(init, log, accessLog.access, hooks);
  const handler = withManagement(withHeadLimit(app, options.maxheadersize, log), options, askPoolSnapshot);
  let server: net.Server;
  try {
    server = await listenOnSocket(options.backlog);
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    return bootFailure(EXIT_WORKER_BOOT, `listen: ${e.code ?? e.message}`);
  }

  let router: Router | undefined;
  if (options.sticky && init.routes !== undefined) {
    try {
      await listenPrivately(server, init.routes, init.id);
    } catch (error) {
      return bootFailure(EXIT_WORKER_BOOT, `sticky=true: cannot listen on the worker's own socket in ${init.routes.dir}: ${(error as Error).message}`);
    }
    router = new Router(init.routes, init.id, options.stickycookie, options.protocol);
  }

  let retiring = false;
  /** Leaves after the requests in progress, while the master starts a replacement. */
  const retire = (level: 'info' | 'warn', fields: object, why: string): void => {
    if (retiring) return;
    retiring = true;
    log[level](fields, `${why}: retiring after the requests in progress`);
    channel.send(tag<ToMaster>({ type: 'retiring' }));
    // The master starts a replacement; the kept-alive connections go to the
    // workers that stay. A thread without a link closes them between
    // requests: to serve them on would keep it (and what made it retire) for long.
    void leave(serving, options.graceperiod * 1000, hooks, log, canPass());
  };
  // `active`: the requests it still finishes, whose growth is how far past the limit it may go.
  memory = new MemoryWatch(options.maxmemory, (bytes) => retire('warn', { mb: Math.round(bytes / MB), maxmemory: options.maxmemory, active: serving.activeRequests }, 'maxmemory exceeded'));
  const serving: Serving = serve(server, handler, log, {
    protocol: options.protocol,
    allowed: webServerCheck(process.env[WEB_SERVER_ADDRS]),
    connection: { maxConns: options.maxconns, maxReqs: options.maxreqs, maxParamsBytes: options.maxparamsbytes, maxParams: options.maxparams },
    maxConns: options.maxconns,
    idleMs: options.idletimeout * 1000,
    readMs: options.readtimeout * 1000,
    firstByteMs: options.firstbytetimeout * 1000,
    timeoutMs: options.timeout * 1000,
    slowMs: options.slowlog * 1000,
    onRequest: () => {
      memory?.requestBegan();
      if (init.maxRequests > 0 && serving.accepted >= init.maxRequests) retire('info', { served: serving.accepted }, 'maxrequests reached');
    },
    router,
  });
  // An error the app throws outside a request (a timer, an event, a promise
  // nobody awaits) would kill the worker and every request in it. Node's
  // advice stands, the process may be in a bad state, so the worker does not
  // carry on: it only lets the others finish first.
  const thrown = (error: unknown): void => {
    if (retiring) log.error({ err: error }, 'the app threw outside a request');
    else retire('warn', { err: error }, 'the app threw outside a request');
  };
  process.on('uncaughtException', thrown);
  process.on('unhandledRejection', thrown);
  channel.onMessage((message, handle) => {
    if (!isOurs(message)) return;
    const m = message as ToWorker;
    switch (m.type) {
      case 'stop':
        void leave(serving, m.graceMs, hooks, log, m.handOff === true);
        return;
      case 'status':
        snapshotWaiters.get(m.id)?.(m.status);
        snapshotWaiters.delete(m.id);
        return;
      case 'reopen':
        logs.reopen();
        accessLog.destination?.reopen();
        return;
      case 'connection':
        adopt(serving, m.fd, handle, m.rest);
        return;
      case 'give-socket':
        giveSocket(server);
        return;
      case 'members':
        router?.setMembers(m.ids);
        return;
    }
  });
  if (!isMainThread) await connectLink(init.link, threadId, log, (handle, rest) => adopt(serving, undefined, handle, rest));
  heartbeat(serving, memory);
  channel.send(tag<ToMaster>({ type: 'ready' }));
  if (isMainThread) setImmediate(watchMaster);
}

main().catch((error: unknown) => {
  if (error instanceof RunfcgiError) return; // reported to the master already
  process.stderr.write(`runfcgi worker: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(EXIT_WORKER_BOOT);
});
