// sticky=true, the master's part: a private directory for the workers' own sockets, and who is in the pool.

import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Options } from '../config/options.js';
import { tag, type RouteDirectory, type ToWorker } from '../shared/messages.js';
import { isRoot, lookupUser } from './accounts.js';
import type { Slot } from './slot.js';

/**
 * Each worker listens on a socket of its own in a directory only the
 * workers' user can enter (mode 0700), so no one else can reach a worker
 * past the web server. The master tells every worker which workers take
 * routed requests: a worker not in the list (starting, retiring, stopping,
 * gone) gets none, and its clients move on.
 */
export class StickyPool {
  readonly where: RouteDirectory;
  private announced = '';

  constructor(options: Options) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runfcgi-routes-'));
    if (options.user !== undefined && isRoot()) {
      const account = lookupUser(options.user);
      fs.chownSync(dir, account.uid, account.gid);
    }
    // A mark per master: a cookie from before a restart names no worker of ours.
    this.where = { dir, mark: randomBytes(4).toString('hex') };
  }

  /** Tells the workers who takes routed requests, when that changed (once per tick at most). */
  update(slots: Iterable<Slot>): void {
    const all = [...slots];
    const ids = all.filter((s) => s.state === 'ready' && !s.retiring).map((s) => s.id).sort((a, b) => a - b);
    const key = ids.join(',');
    if (key === this.announced) return;
    this.announced = key;
    for (const slot of all) if (slot.state === 'ready') slot.worker.send(tag<ToWorker>({ type: 'members', ids }));
  }

  close(): void {
    fs.rmSync(this.where.dir, { recursive: true, force: true });
  }
}
