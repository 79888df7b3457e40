// On a restart, the kept-alive connections of the stopping master's workers go on to the next master's.

import crypto from 'node:crypto';
import path from 'node:path';
import fs from 'node:fs';
import type { Logger } from '../../shared/log.js';
import { privateDir } from './handover.js';
import { listenOnce } from './ipc-pipe.js';
import { ipcPipes, write, type Internals, type PipeHandle, type UvHandle } from '../../shared/uv-pipes.js';

/**
 * The listening socket goes to the next master (handover.ts), but the
 * connections nginx keeps alive are in the old master's workers. They pass
 * them on between requests (see master/relay.ts), and the old master sends
 * them on here, one at a time: `<rest as base64>\n` with the descriptor,
 * answered by one byte once the next master has it (as child_process does,
 * so that one read never carries two descriptors).
 */
const ACK = 'A';

/**
 * Where the master `pid` offers the connections of the socket at `address`
 * ('unix:/path', 'tcp:host:port'). One per master: in back-to-back restarts a
 * master may be stopping before its predecessor is gone, and the next one
 * takes from both.
 */
function offerPath(dir: string, address: string, pid: number): string {
  return path.join(dir, `${offerPrefix(address)}${pid}.sock`);
}

function offerPrefix(address: string): string {
  return `conns-${crypto.createHash('sha256').update(address).digest('hex').slice(0, 24)}-`;
}

function ourDir(create: boolean): string | { error: string } {
  return privateDir(process.geteuid?.() ?? 0, create);
}

export interface ConnectionOffer {
  /** Sends a connection on (queued until the next master connects). */
  send(handle: UvHandle, rest: string): void;
  /** Resolves once all sent were taken, or after `timeoutMs`; then closes what is left. */
  finish(timeoutMs: number): Promise<void>;
}

/** The old master's side: offers the connections its workers give up, to the next master. */
export function offerConnections(address: string, log: Logger): ConnectionOffer | undefined {
  const ipc = ipcPipes();
  const dir = typeof ipc === 'string' ? { error: ipc } : ourDir(true);
  if (typeof ipc === 'string' || typeof dir !== 'string') {
    log.warn({ reason: typeof dir === 'string' ? ipc : dir.error }, 'kept-alive connections cannot go to the next master: they are closed between requests');
    return undefined;
  }
  const at = offerPath(dir, address, process.pid);
  const queue: { handle: UvHandle; rest: string }[] = [];
  let pipe: PipeHandle | undefined;
  let inFlight: UvHandle | undefined;
  let idle: (() => void) | undefined;
  const next = (): void => {
    if (pipe === undefined || inFlight !== undefined) return;
    const item = queue.shift();
    if (item === undefined) return idle?.();
    inFlight = item.handle;
    write(ipc, pipe, `${item.rest}\n`, (ok) => {
      if (!ok) log.warn('a kept-alive connection could not go to the next master: closed');
    }, item.handle);
  };
  const listening = listenOnce(ipc, at, (p) => {
    pipe = p;
    p.onread = (buffer) => {
      if (ipc.readBytes(buffer) === undefined) {
        pipe = undefined;
        return p.close();
      }
      // Taken: our copy goes.
      inFlight?.close();
      inFlight = undefined;
      next();
    };
    p.readStart();
    next();
  });
  if (typeof listening === 'string') {
    log.warn({ reason: listening }, 'kept-alive connections cannot go to the next master: they are closed between requests');
    return undefined;
  }
  return {
    send(handle, rest) {
      queue.push({ handle, rest });
      next();
    },
    async finish(timeoutMs) {
      if (queue.length > 0 || inFlight !== undefined) {
        await new Promise<void>((resolve) => {
          idle = resolve;
          setTimeout(resolve, timeoutMs).unref();
        });
      }
      listening.close();
      if (queue.length > 0) log.warn({ connections: queue.length }, 'the next master did not take every kept-alive connection: closed');
      for (const item of queue.splice(0)) item.handle.close();
      inFlight?.close();
      pipe?.close();
    },
  };
}

/**
 * The next master's side, once it serves: takes what the stopping master
 * offers, if one does, and gives each connection to `take`.
 */
export function receiveConnections(address: string, take: (handle: UvHandle, rest: string) => void, log: Logger): void {
  const ipc = ipcPipes();
  const dir = typeof ipc === 'string' ? undefined : ourDir(false);
  if (typeof ipc === 'string' || typeof dir !== 'string') return;
  const prefix = offerPrefix(address);
  // Every stopping predecessor's offer, never our own (we may be stopping already ourselves).
  for (const name of fs.readdirSync(dir)) {
    if (name.startsWith(prefix) && name !== path.basename(offerPath(dir, address, process.pid))) receiveFrom(ipc, path.join(dir, name), take, log);
  }
}

function receiveFrom(ipc: Internals, at: string, take: (handle: UvHandle, rest: string) => void, log: Logger): void {
  const pipe = new ipc.Pipe(ipc.types.IPC);
  let text = '';
  let handle: UvHandle | undefined;
  let taken = 0;
  pipe.onread = (buffer) => {
    handle ??= pipe.pendingHandle ?? undefined;
    pipe.pendingHandle = null;
    const bytes = ipc.readBytes(buffer);
    if (bytes === undefined) {
      if (taken > 0) log.info({ connections: taken }, 'kept-alive connections taken over from the previous master');
      return pipe.close();
    }
    text += bytes.toString('latin1');
    const end = text.indexOf('\n');
    if (end < 0) return;
    const rest = text.slice(0, end);
    text = text.slice(end + 1);
    if (handle !== undefined) {
      take(handle, rest);
      taken++;
    }
    handle = undefined;
    write(ipc, pipe, ACK, () => {});
  };
  const req = new ipc.PipeConnectWrap();
  req.oncomplete = (status) => {
    if (status !== 0 || pipe.readStart() !== 0) pipe.close();
  };
  if (pipe.connect(req, at) !== 0) pipe.close();
}
