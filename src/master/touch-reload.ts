// touchreload=FILE: a reload whenever the file's modification time changes (touch mysite.fcgi).

import fs from 'node:fs';
import type { Logger } from '../shared/log.js';

/** Polls the file's mtime once a second (fs.watch misses a file replaced by an editor or a deploy). */
export function watchTouchReload(file: string, log: Logger, reload: () => void): { close(): void } {
  let last = fs.statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? 0;
  fs.watchFile(file, { interval: 1000 }, (stat) => {
    if (stat.mtimeMs === last) return;
    last = stat.mtimeMs;
    log.info({ file }, 'touchreload: file changed');
    reload();
  });
  return { close: () => fs.unwatchFile(file) };
}
