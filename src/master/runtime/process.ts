// Worker processes: each gets the listening socket as its fd 5 (WORKER_LISTEN_FD), never as its stdio.

import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { Socket } from 'node:net';
import { INIT_ENV, tag, type ToWorker, type WorkerInit } from '../../shared/messages.js';
import type { PassedHandle } from './types.js';
import { WORKER_ENTRY, type RuntimeWorker, type WorkerRuntime, type WorkerSetup } from './types.js';

class ProcessWorker extends EventEmitter implements RuntimeWorker {
  readonly threadId = undefined;
  private readonly child: ChildProcess;

  constructor(child: ChildProcess) {
    super();
    this.child = child;
    // A handle sent along (pm=ondemand's copy of a systemd socket) comes second.
    child.on('message', (m, handle) => this.emit('message', m, handle));
    child.on('exit', (code, signal) => this.emit('exit', code, signal));
    // EPIPE when the worker died between our check and the send: 'exit' tells the story.
    child.on('error', () => {});
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  send(message: ToWorker): void {
    if (this.child.connected) this.child.send(message);
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }

  /** Node's IPC passes the descriptor (SCM_RIGHTS) and closes ours once sent, as cluster does. */
  adopt(socket: Socket): void {
    if (this.child.connected) this.child.send(tag<ToWorker>({ type: 'connection' }), socket);
    else socket.destroy();
  }

  /**
   * The handle goes as a bare one ('net.Native'): the master never makes a
   * socket of it, which would start reading. Ours is closed once the
   * descriptor is on its way (the kernel holds a copy for the worker).
   */
  pass(handle: PassedHandle, rest: string): void {
    if (!this.child.connected) {
      handle.close();
      return;
    }
    this.child.send(tag<ToWorker>({ type: 'connection', rest }), handle as unknown as Socket, undefined, () => handle.close());
  }
}

export const processRuntime: WorkerRuntime = {
  name: 'prefork',
  spawn(init: WorkerInit, listenFd: number, setup: WorkerSetup): RuntimeWorker {
    // Node's own flags (node --max-old-space-size=... runfcgi) reach the workers, as with cluster.
    const lines = setup.appLines;
    const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(WORKER_ENTRY)], {
      // fd 0: /dev/null; 1 and 2: the master's; 3: our IPC channel; 5: the listening socket
      // (WORKER_LISTEN_FD: on fd 0 it turned blocking for every worker at each start). With applog=json,
      // 1 and 2 are pipes to the master, and runfcgi's own log lines go straight to the master's fd 2, as fd 4 (APPLOG_LOG_FD).
      stdio: lines === undefined ? ['ignore', 'inherit', 'inherit', 'ipc', 'ignore', listenFd] : ['ignore', 'pipe', 'pipe', 'ipc', 2, listenFd],
      env: { ...setup.env, [INIT_ENV]: JSON.stringify(init) },
      ...(setup.uid !== undefined ? { uid: setup.uid, gid: setup.gid ?? setup.uid } : {}),
    });
    if (lines !== undefined) {
      lines(child.stdout!, 'stdout', { id: init.id, pid: child.pid ?? -1 });
      lines(child.stderr!, 'stderr', { id: init.id, pid: child.pid ?? -1 });
    }
    return new ProcessWorker(child);
  },
};
