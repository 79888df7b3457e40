// Peer: a fetch app on @hono/node-server (its defaults: global Request/Response replaced) under cluster,
// on a UNIX socket behind nginx proxy_pass.
import fs from 'node:fs';
import { createAdaptorServer } from '@hono/node-server';
import { inWorker } from './cluster.mjs';

const [socket, appFile, workers = '2'] = process.argv.slice(2);
if (inWorker(socket, workers)) {
  const { default: app } = await import(appFile);
  const server = createAdaptorServer({ fetch: app.fetch, serverOptions: { keepAliveTimeout: 60_000 } });
  server.listen(socket, () => fs.chmodSync(socket, 0o777));
}
