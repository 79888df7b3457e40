// Peer: the same listener on Node's http server under cluster, on a UNIX socket (behind nginx proxy_pass).
import cluster from 'node:cluster';
import fs from 'node:fs';
import http from 'node:http';

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
  const server = http.createServer({ keepAliveTimeout: 60_000 }, app);
  server.listen(socket, () => fs.chmodSync(socket, 0o777));
}
