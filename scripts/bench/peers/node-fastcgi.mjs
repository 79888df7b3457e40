// Peer: the node-fastcgi package (npm) under cluster.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { inWorker } from './cluster.mjs';

const fcgi = createRequire(import.meta.url)('node-fastcgi');
const [socket, appFile, workers = '2'] = process.argv.slice(2);
if (inWorker(socket, workers)) {
  const { default: app } = await import(appFile);
  fcgi.createServer(app).listen(socket, () => fs.chmodSync(socket, 0o777));
}
