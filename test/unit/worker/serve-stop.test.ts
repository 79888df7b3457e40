// A worker's stop: it ends once every connection is gone, also one handed to it while it leaves.

import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/shared/log.js';
import { serve } from '../../../src/worker/serve.js';
import { waitFor } from '../../helpers/load.js';

const log = createLogger({}, 'silent');
const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const f of cleanup.splice(0)) f();
});

/** A server on a fresh UNIX socket, and a connected pair: the client's end and the server's. */
async function pair(server: net.Server, sock: string): Promise<{ client: net.Socket; accepted: net.Socket }> {
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  const client = net.connect(sock);
  client.on('error', () => {});
  cleanup.push(() => client.destroy());
  return { client, accepted: await accepted };
}

describe('serve(): stop', () => {
  it('a kept-alive connection handed to a worker that is leaving is passed on, and the stop still ends', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'serve-stop-'));
    cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const sock = path.join(dir, 's.sock');
    const server = net.createServer({ allowHalfOpen: true });
    await new Promise<void>((r) => server.listen(sock, r));
    // A second server stands in for the leaving worker that hands a connection over.
    const other = net.createServer({ allowHalfOpen: true });
    const otherSock = path.join(dir, 'o.sock');
    await new Promise<void>((r) => other.listen(otherSock, r));
    cleanup.push(() => other.close());
    const serving = serve(server, () => {}, log);
    await pair(server, sock);
    await waitFor(() => serving.connections === 1, 30_000, 'a connection of its own');
    const late = await pair(other, otherSock);
    // Passing a connection on ends when the IPC send does: this one's, once the first has gone.
    const passes: { socket: net.Socket; done: () => void }[] = [];
    let stopped = false;
    const stop = serving.stop(60_000, { pass: (socket, _rest, done) => void passes.push({ socket, done }) }).then(() => (stopped = true));
    // The master passed it on before it saw this worker leave: it arrives after the stop began.
    serving.adopt(late.accepted, Buffer.alloc(0));
    await waitFor(() => passes.length === 2, 30_000, 'both connections handed off');
    passes[0]!.done();
    await waitFor(() => serving.connections === 1, 30_000, 'the first one gone');
    await new Promise((r) => setImmediate(() => setImmediate(r)));
    passes[1]!.done();
    await waitFor(() => serving.connections === 0, 30_000, 'the late one gone');
    await waitFor(() => stopped, 30_000, 'the stop to end');
    await stop;
    expect(stopped).toBe(true);
  });
});
