// The kernel's limits that size defaults: open files (maxconns=) and the listen queue (backlog=).

import fs from 'node:fs';

/** Node raises its soft open-files limit to the hard one at start (as nginx's worker_rlimit_nofile): this is that limit. */
export function openFilesLimit(): number | undefined {
  try {
    const line = /^Max open files\s+(\d+|unlimited)/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'));
    if (line === null) return undefined;
    return line[1] === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(line[1]);
  } catch {
    return undefined;
  }
}

/** net.core.somaxconn: listen() quietly caps any larger backlog to it. */
export function somaxconn(): number | undefined {
  try {
    const n = Number(fs.readFileSync('/proc/sys/net/core/somaxconn', 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** Without /proc (not Linux): what the limits usually are. */
const FALLBACK_OPEN_FILES = 1024;
const FALLBACK_SOMAXCONN = 4096;
/** listen(2)'s backlog is an int; Linux keeps it in 32 bits, Node passes it as is. */
const MAX_BACKLOG = 65535;

/**
 * maxconns= by default: what the open-files limit leaves once the worker's
 * own files (the app's, its logs, its outgoing connections) have a tenth of
 * it, at least 64. Threads share one process's limit: each gets its share.
 */
export function defaultMaxConns(threads: number): number {
  const limit = openFilesLimit() ?? FALLBACK_OPEN_FILES;
  const usable = limit - Math.max(64, Math.floor(limit / 10));
  return Math.max(1, Math.min(1_000_000, Math.floor(usable / Math.max(1, threads))));
}

/** backlog= by default: the most the kernel allows (4096 on Linux 5.4 and later), far above Node's 511. */
export function defaultBacklog(): number {
  return Math.min(MAX_BACKLOG, somaxconn() ?? FALLBACK_SOMAXCONN);
}
