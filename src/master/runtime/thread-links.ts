// The master's end of its worker threads' links: an IPC pipe each, for connections passed either way.

import path from 'node:path';
import { HandleLink } from '../../shared/handle-link.js';
import type { Logger } from '../../shared/log.js';
import { ipcPipes } from '../../shared/uv-pipes.js';
import { privateDir } from '../listener/handover.js';
import { listenForPipes } from '../listener/ipc-pipe.js';

/**
 * Threads share the process's descriptors, but a socket belongs to the one
 * thread whose event loop opened it, and ends with it: a leaving thread
 * closes every socket it holds. Node has no dup(); sending a descriptor over
 * an IPC pipe makes one (the kernel installs a new descriptor for the
 * receiver), so each thread connects a pipe to the master at start and
 * connections travel over it, as they do to and from worker processes.
 * Each thread's first line names its thread id.
 */
export interface ThreadLinks {
  /** Where a thread connects its link. */
  readonly path: string;
  /** Calls `linked` with the link of thread `threadId` once it connects. */
  expect(threadId: number, linked: (link: HandleLink) => void): void;
  /** The thread ended before it connected. */
  forget(threadId: number): void;
}

let links: ThreadLinks | string | undefined;

/** This master's links, or why threads cannot have any (then they close connections where processes pass them). */
export function threadLinks(log: Logger): ThreadLinks | string {
  links ??= listen(log);
  return links;
}

function listen(log: Logger): ThreadLinks | string {
  const ipc = ipcPipes();
  if (typeof ipc === 'string') return ipc;
  const dir = privateDir(process.geteuid?.() ?? 0, true);
  if (typeof dir !== 'string') return dir.error;
  const at = path.join(dir, `threads-${process.pid}.sock`);
  const expected = new Map<number, (link: HandleLink) => void>();
  const listening = listenForPipes(ipc, at, (pipe) => {
    const link = new HandleLink(ipc, pipe, log);
    link.onMessage = (text, handle) => {
      handle?.close();
      const linked = expected.get(Number(text));
      expected.delete(Number(text));
      if (linked === undefined) link.close();
      else linked(link);
    };
  });
  if (typeof listening === 'string') return listening;
  // The socket file goes with the master (its name holds our pid: a later master never meets it).
  process.once('exit', () => listening.close());
  return {
    path: at,
    expect: (threadId, linked) => void expected.set(threadId, linked),
    forget: (threadId) => void expected.delete(threadId),
  };
}
