// The candidate runfcgi did not take, measured: restarts by SO_REUSEPORT (Node >= 22.12). A next server binds
// the port beside the old one, then the old one closes: Linux resets the connections left in its accept queue
// (unless net.ipv4.tcp_migrate_req is on). Run: node scripts/bench/reuseport.mjs

import { fork } from 'node:child_process';
import net from 'node:net';

const RESTARTS = 20;
const CLIENTS = 4;

if (process.argv[2] === 'server') {
  // One server: answers each connection's first bytes, closes on SIGTERM once its connections are done.
  const server = net.createServer((s) => {
    s.on('data', () => s.end('ok\n'));
    s.on('error', () => {});
  });
  server.listen({ port: Number(process.argv[3]), host: '127.0.0.1', reusePort: true, backlog: 511 }, () => process.send('listening'));
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
} else {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const start = () => new Promise((resolve) => {
    const child = fork(new URL(import.meta.url), ['server', String(port)]);
    child.once('message', () => resolve(child));
  });
  let ok = 0;
  const failed = {};
  let loading = true;
  const ask = () => new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let done = false;
    const end = (result) => {
      if (done) return;
      done = true;
      s.destroy();
      if (result === 'ok') ok++;
      else failed[result] = (failed[result] ?? 0) + 1;
      resolve();
    };
    s.on('connect', () => s.write('x'));
    s.on('data', () => end('ok'));
    s.on('error', (e) => end(e.code));
    s.on('close', () => end('closed without an answer'));
  });
  let current = await start();
  const clients = Array.from({ length: CLIENTS }, async () => {
    while (loading) await ask();
  });
  for (let i = 0; i < RESTARTS; i++) {
    await new Promise((r) => setTimeout(r, 200));
    const next = await start();
    const exited = new Promise((r) => current.once('exit', r));
    current.kill('SIGTERM');
    await exited;
    current = next;
  }
  loading = false;
  await Promise.all(clients);
  current.kill('SIGTERM');
  console.log(`Node ${process.version}, SO_REUSEPORT, ${RESTARTS} restarts under ${CLIENTS} clients: ${ok} answered, failed: ${JSON.stringify(failed)}`);
}
