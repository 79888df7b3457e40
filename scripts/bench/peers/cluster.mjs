// The cluster primary every Node peer uses: start N workers, stop them on SIGTERM.
import cluster from 'node:cluster';
import fs from 'node:fs';

/** True in a worker (serve there); in the primary, forks `workers` and returns false. */
export function inWorker(socket, workers) {
  if (!cluster.isPrimary) return true;
  fs.rmSync(socket, { force: true });
  for (let i = 0; i < Number(workers); i++) cluster.fork();
  process.on('SIGTERM', () => {
    for (const w of Object.values(cluster.workers)) w.kill();
    process.exit(0);
  });
  return false;
}
