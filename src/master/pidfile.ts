// The pidfile: refused while a live runfcgi holds it, written atomically once serving, removed only if ours.

import fs from 'node:fs';
import path from 'node:path';
import { errnoWords, RunfcgiError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import { isAlive, runfcgiMaster } from '../shared/procfs.js';

export class Pidfile {
  readonly file: string;
  private readonly log: Logger;
  private release: (() => Promise<void>) | null = null;
  private written = false;

  constructor(file: string, log: Logger) {
    this.file = file;
    this.log = log;
  }

  /**
   * Takes the start lock (two starts racing: one waits), checks the pid in
   * the file. The lock is held until write(): only a start that dies before
   * it is serving leaves one behind, stale after 5 s.
   */
  async claim(): Promise<void> {
    try {
      // The lock retries on any error; a directory we cannot write to is not worth waiting for.
      fs.accessSync(path.dirname(this.file), fs.constants.W_OK);
    } catch (error) {
      throw new RunfcgiError(`cannot write pidfile=${this.file}: ${errnoWords(error)}`);
    }
    this.release = await this.lock();
    try {
      this.checkRunning();
    } catch (error) {
      await this.unlock();
      throw error;
    }
  }

  /** The start lock; only a lock held by another start is worth waiting for (up to 6 s). */
  private async lock(): Promise<() => Promise<void>> {
    // Loaded here: only a start with pidfile= needs it (it patches fs, and takes time to load).
    const { default: lockfile } = await import('proper-lockfile');
    const deadline = Date.now() + 6000;
    for (;;) {
      try {
        return await lockfile.lock(this.file, { realpath: false, stale: 5000, retries: 0, onCompromised: () => {} });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ELOCKED') {
          throw new RunfcgiError(`cannot write pidfile=${this.file}: ${errnoWords(error)}`);
        }
        if (Date.now() > deadline) {
          throw new RunfcgiError(`pidfile=${this.file}: another runfcgi is starting with this pidfile`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  private checkRunning(): void {
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch {
      return;
    }
    const pid = Number(text.trim());
    if (!Number.isInteger(pid) || pid <= 0) {
      this.log.warn({ pidfile: this.file }, 'pidfile holds no pid: replacing it');
      return;
    }
    if (pid !== process.pid && isAlive(pid) && runfcgiMaster(pid) === 'serving') {
      throw new RunfcgiError(`runfcgi is already running as pid ${pid} (pidfile=${this.file}); stop it first: kill ${pid}`);
    }
    this.log.warn({ pidfile: this.file, stalePid: pid }, 'stale pidfile (that process is gone or is not runfcgi): replacing it');
  }

  /** Writes our pid atomically (temp file + rename) and lets go of the start lock. */
  async write(): Promise<void> {
    const temporary = path.join(path.dirname(this.file), `.${path.basename(this.file)}.${process.pid}`);
    fs.writeFileSync(temporary, `${process.pid}\n`);
    fs.renameSync(temporary, this.file);
    this.written = true;
    await this.unlock();
  }

  async unlock(): Promise<void> {
    const release = this.release;
    this.release = null;
    await release?.().catch(() => {});
  }

  /** Removes the file if it still holds our pid: a successor's stays. */
  remove(): void {
    if (!this.written) return;
    try {
      if (fs.readFileSync(this.file, 'utf8').trim() === String(process.pid)) fs.rmSync(this.file);
    } catch {
      // already gone
    }
  }
}
