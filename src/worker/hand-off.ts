// How a leaving worker gives its kept-alive connections away: a process over its IPC channel, a thread over its link.

import type net from 'node:net';
import { isMainThread } from 'node:worker_threads';
import { HandleLink } from '../shared/handle-link.js';
import type { Logger } from '../shared/log.js';
import { LINK_KEPT_ALIVE, tag, type ToMaster, type WorkerInit } from '../shared/messages.js';
import { ipcPipes, type UvHandle } from '../shared/uv-pipes.js';
import type { Leaving } from './serve.js';

interface SocketHandle extends UvHandle {
  reading?: boolean;
  readStop?(): number;
}

/** Sends a connection's handle and what was read of it (base64) to the master; `sent` says whether it left. */
type PassOn = (handle: SocketHandle, rest: string, sent: (ok: boolean) => void) => void;

/** A worker thread's link to the master (master/runtime/thread-links.ts), once connected. */
let link: HandleLink | undefined;
/** Why a worker thread has no link. */
let noLink = 'not connected yet';

/**
 * A worker thread connects its link at start, before it says it is ready:
 * connections come over it (`take`, with `rest` base64 for a kept-alive one,
 * undefined for a new one) and its own go over it when it leaves.
 */
export function connectLink(place: WorkerInit['link'], threadId: number, log: Logger, take: (handle: UvHandle, rest: string | undefined) => void): Promise<void> {
  const ipc = ipcPipes();
  if (place === undefined || 'error' in place || typeof ipc === 'string') {
    noLink = typeof ipc === 'string' ? ipc : (place as { error?: string } | undefined)?.error ?? 'the master offers none';
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    const pipe = new ipc.Pipe(ipc.types.IPC);
    const req = new ipc.PipeConnectWrap();
    req.oncomplete = (status) => {
      if (status !== 0) {
        noLink = `cannot connect to ${place.path} (${status})`;
        pipe.close();
        return resolve();
      }
      const connected = new HandleLink(ipc, pipe, log);
      connected.onMessage = (text, handle) => {
        if (handle !== undefined) take(handle, text.startsWith(LINK_KEPT_ALIVE) ? text.slice(1) : undefined);
      };
      connected.onClose = () => {
        link = undefined;
        noLink = 'the link to the master closed';
      };
      connected.send(String(threadId), undefined);
      link = connected;
      resolve();
    };
    if (pipe.connect(req, place.path) !== 0) {
      noLink = `cannot connect to ${place.path}`;
      pipe.close();
      resolve();
    }
  });
}

/** A process, or a thread with its link: how it passes a connection on; undefined when it cannot. */
function passOn(log: Logger): PassOn | undefined {
  if (!isMainThread) {
    const through = link;
    return through === undefined ? undefined : (handle, rest, sent) => through.send(`${LINK_KEPT_ALIVE}${rest}`, handle, sent);
  }
  if (process.send === undefined) return undefined;
  return (handle, rest, sent) => {
    const queued = process.send!(tag<ToMaster>({ type: 'pass', rest }), handle as unknown as net.Socket, undefined, (error) => sent(error == null));
    if (!queued) log.debug('passing connections: the IPC channel is backed up');
  };
}

/** Whether this worker can give its connections away when it retires itself. */
export function canPass(): boolean {
  return isMainThread ? process.send !== undefined : link !== undefined;
}

/**
 * A kept-alive connection, between requests, goes to the master for a worker
 * that stays (see master/relay.ts). Its handle stops reading first, so that
 * whatever the web server sends from now on waits in the kernel for the next
 * worker; it goes as a bare handle, and our copy closes once it is sent.
 */
function passConnection(socket: net.Socket, rest: Buffer, done: () => void, log: Logger, send: PassOn): void {
  const handle = (socket as unknown as { _handle?: SocketHandle | null })._handle;
  if (handle == null) return done();
  handle.reading = false;
  handle.readStop?.();
  send(handle, rest.toString('base64'), (ok) => {
    if (!ok) log.warn('a kept-alive connection could not be passed on: closed');
    done();
  });
}

/**
 * What a leaving worker does with its kept-alive connections: it hands them
 * on when the master asks (reload, retirement); a thread without a link
 * cannot give a descriptor away and serves them on until the web server
 * closes them.
 */
export function leavingHow(handOff: boolean, log: Logger): Leaving {
  if (!handOff) return 'close';
  const send = passOn(log);
  if (send === undefined) {
    if (!isMainThread) log.info({ why: noLink }, 'this worker thread cannot pass its kept-alive connections on: it serves them until the web server closes them');
    return 'keep';
  }
  return { pass: (socket, rest, done) => passConnection(socket, rest, done, log, send) };
}
