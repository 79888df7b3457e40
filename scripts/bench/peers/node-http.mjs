// Peer: the same listener on Node's http server under cluster, on a UNIX socket (behind nginx proxy_pass).
import fs from 'node:fs';
import http from 'node:http';
import { inWorker } from './cluster.mjs';

const [socket, appFile, workers = '2'] = process.argv.slice(2);
if (inWorker(socket, workers)) {
  const { default: app } = await import(appFile);
  const server = http.createServer({ keepAliveTimeout: 60_000 }, app);
  server.listen(socket, () => fs.chmodSync(socket, 0o777));
}
