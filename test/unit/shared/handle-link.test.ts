// HandleLink: lines with descriptors over a real libuv IPC pipe, each descriptor with its own line, in order.

import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HandleLink } from '../../../src/shared/handle-link.js';
import { createLogger } from '../../../src/shared/log.js';
import { ipcPipes, type Internals, type UvHandle } from '../../../src/shared/uv-pipes.js';
import { listenForPipes } from '../../../src/master/listener/ipc-pipe.js';
import { waitFor } from '../../helpers/load.js';

const log = createLogger({}, 'silent');

interface Pair {
  left: HandleLink;
  right: HandleLink;
}

/** Two links, one each end of a pipe, as the master and a thread hold them. */
async function linkPair(ipc: Internals, at: string): Promise<Pair> {
  let right: HandleLink | undefined;
  const listening = listenForPipes(ipc, at, (pipe) => {
    right = new HandleLink(ipc, pipe, log);
  });
  if (typeof listening === 'string') throw new Error(listening);
  const pipe = new ipc.Pipe(ipc.types.IPC);
  const req = new ipc.PipeConnectWrap();
  await new Promise<void>((resolve, reject) => {
    req.oncomplete = (status) => (status === 0 ? resolve() : reject(new Error(`connect ${status}`)));
    if (pipe.connect(req, at) !== 0) reject(new Error('connect'));
  });
  const left = new HandleLink(ipc, pipe, log);
  await waitFor(() => right !== undefined, 5000, 'the other end accepted');
  listening.close();
  return { left, right: right! };
}

/** `n` TCP connections: the server side of each (to send), and the client side (to hear from). */
async function connections(n: number): Promise<{ served: net.Socket[]; clients: net.Socket[]; close: () => void }> {
  const served: net.Socket[] = [];
  const server = net.createServer({ pauseOnConnect: true }, (s) => served.push(s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const clients = await Promise.all(Array.from({ length: n }, () => new Promise<net.Socket>((resolve) => {
    const c = net.connect(port, '127.0.0.1', () => resolve(c));
  })));
  await waitFor(() => served.length === n, 5000, 'connections accepted');
  return { served, clients, close: () => { for (const c of clients) c.destroy(); server.close(); } };
}

function handleOf(socket: net.Socket): UvHandle {
  return (socket as unknown as { _handle: UvHandle })._handle;
}

describe('HandleLink', () => {
  const ipc = ipcPipes();
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'handle-link-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it.runIf(typeof ipc !== 'string')('delivers each descriptor with its own line, sent back to back, with lines without one between', async () => {
    const { left, right } = await linkPair(ipc as Internals, path.join(dir, 'l.sock'));
    const got: { text: string; handle: UvHandle | undefined }[] = [];
    right.onMessage = (text, handle) => got.push({ text, handle });
    const { served, clients, close } = await connections(5);
    const written: boolean[] = [];
    served.forEach((s, i) => {
      left.send(`c${i}`, handleOf(s), (ok) => {
        written.push(ok);
        // Ours may close once written: the other end holds its own descriptor.
        s.destroy();
      });
      left.send(`plain${i}`, undefined);
    });
    await waitFor(() => got.length === 10, 5000, 'ten lines');
    expect(got.map((g) => g.text)).toEqual(served.flatMap((_s, i) => [`c${i}`, `plain${i}`]));
    expect(got.filter((g, i) => (g.handle !== undefined) !== (i % 2 === 0))).toEqual([]);
    expect(written).toEqual([true, true, true, true, true]);
    // Each descriptor is the connection its line names: what we write on it reaches that client.
    const heard = clients.map((c) => new Promise<string>((resolve) => c.once('data', (d) => resolve(String(d)))));
    got.filter((g) => g.handle !== undefined).forEach((g, i) => {
      const socket = new net.Socket({ handle: g.handle, readable: true, writable: true } as net.SocketConstructorOpts);
      socket.end(`${g.text} for client ${i}`);
    });
    expect(await Promise.all(heard)).toEqual(clients.map((_c, i) => `c${i} for client ${i}`));
    left.close();
    right.close();
    close();
  });

  it.runIf(typeof ipc !== 'string')('says it is idle only once the other end holds every descriptor sent', async () => {
    const { left, right } = await linkPair(ipc as Internals, path.join(dir, 'i.sock'));
    const got: string[] = [];
    right.onMessage = (text, handle) => {
      got.push(text);
      handle?.close();
    };
    const { served, close } = await connections(3);
    let idleAfter = -1;
    left.whenIdle(() => got.push('idle at once'));
    for (const [i, s] of served.entries()) left.send(`c${i}`, handleOf(s), () => s.destroy());
    left.whenIdle(() => {
      idleAfter = got.length;
    });
    await waitFor(() => idleAfter >= 0, 5000, 'idle');
    expect(got.slice(0, idleAfter)).toEqual(['idle at once', 'c0', 'c1', 'c2']);
    left.close();
    right.close();
    close();
  });

  it.runIf(typeof ipc !== 'string')('fails what is queued when it closes, and tells the other end', async () => {
    const { left, right } = await linkPair(ipc as Internals, path.join(dir, 'c.sock'));
    let rightClosed = false;
    right.onClose = () => {
      rightClosed = true;
    };
    const { served, close } = await connections(2);
    const results: boolean[] = [];
    // The second waits for the first's acknowledgement, which cannot come once we close.
    for (const s of served) left.send('x', handleOf(s), (ok) => results.push(ok));
    left.close();
    expect(results).toContain(false);
    await waitFor(() => rightClosed, 5000, 'the other end saw the close');
    expect(left.open).toBe(false);
    left.send('late', undefined, (ok) => results.push(ok));
    expect(results.at(-1)).toBe(false);
    for (const s of served) s.destroy();
    close();
  });
});
