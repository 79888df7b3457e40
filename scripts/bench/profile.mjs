#!/usr/bin/env node
// Runs a worker's hot path in one process for profiling: node --cpu-prof scripts/bench/profile.mjs SOCKET APP SECONDS
// (load the app, serve FastCGI on SOCKET). Point nginx and wrk at it; the profile is written on exit.
import fs from 'node:fs';
import net from 'node:net';
import { loadApp } from '../../dist/adapter/load.js';
import { createLogger } from '../../dist/shared/log.js';
import { serve } from '../../dist/worker/serve.js';

const [socket, app, seconds = '8'] = process.argv.slice(2);
const log = createLogger({}, 'warn');
const handler = await loadApp(app, { debug: false, log }, process.cwd());
fs.rmSync(socket, { force: true });
const server = net.createServer({ allowHalfOpen: true });
serve(server, handler, log);
server.listen(socket, () => fs.chmodSync(socket, 0o777));
setTimeout(() => process.exit(0), Number(seconds) * 1000);
