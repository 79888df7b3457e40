// Peer: the node-fastcgi package (npm) under cluster.
import cluster from 'node:cluster';
import fs from 'node:fs';
import { createRequire } from 'node:module';

const fcgi = createRequire(import.meta.url)('node-fastcgi');
const [socket, appFile, workers = '2'] = process.argv.slice(2);
if (cluster.isPrimary) {
  fs.rmSync(socket, { force: true });
  for (let i = 0; i < Number(workers); i++) cluster.fork();
  process.on('SIGTERM', () => {
    for (const w of Object.values(cluster.workers)) w.kill();
    process.exit(0);
  });
} else {
  const { default: app } = await import(appFile);
  fcgi.createServer(app).listen(socket, () => fs.chmodSync(socket, 0o777));
}
