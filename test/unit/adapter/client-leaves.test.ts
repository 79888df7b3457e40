// A client that leaves, as each adapter shows it to the app: the web server closes the connection
// (or sends FCGI_ABORT_REQUEST) while the app is still at work on a request whose input is complete.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { fetchHandler } from '../../../src/adapter/fetch.js';
import { nodeHandler } from '../../../src/adapter/node.js';
import { encodeRecord } from '../../../src/protocol/fcgi/codec.js';
import { FcgiConnection } from '../../../src/protocol/fcgi/connection.js';
import type { RequestHandler } from '../../../src/adapter/types.js';
import { silentLog } from '../../helpers/adapter.js';
import { request } from '../../helpers/fcgi-records.js';
import { MemorySocket, settle } from '../../helpers/memory-socket.js';

const opts = { debug: false, log: silentLog };

/** One GET on a fresh connection; `leave` then makes the web server give it up. */
async function atWork(handler: RequestHandler): Promise<{ socket: MemorySocket }> {
  const socket = new MemorySocket();
  new FcgiConnection(socket).on('request', handler);
  socket.push(request(1, { REQUEST_METHOD: 'GET', SERVER_PROTOCOL: 'HTTP/1.1', REQUEST_URI: '/slow' }));
  await settle();
  return { socket };
}

const LEAVES: [string, (socket: MemorySocket) => void][] = [
  ['the web server closes the connection', (socket) => socket.push(null)],
  ['the web server sends FCGI_ABORT_REQUEST', (socket) => socket.push(encodeRecord(2, 1))],
];

describe.each(LEAVES)('when %s', (_name, leave) => {
  it('a (req, res) app sees req and res close at once, unfinished, and may write afterwards without harm', async () => {
    const seen: string[] = [];
    let res: ServerResponse | undefined;
    let req: IncomingMessage | undefined;
    const { socket } = await atWork(nodeHandler((rq, rs) => {
      req = rq;
      res = rs;
      rq.on('close', () => seen.push('req close'));
      rs.on('close', () => seen.push(`res close finished=${rs.writableFinished}`));
      rs.on('error', () => seen.push('res error'));
    }, opts));
    expect(seen).toEqual([]);
    leave(socket);
    await settle();
    expect(seen.sort()).toEqual(['req close', 'res close finished=false']);
    expect(req!.destroyed).toBe(true);
    expect(res!.destroyed).toBe(true);
    const before = Buffer.concat(socket.written).length;
    expect(() => res!.end('too late')).not.toThrow();
    await settle();
    expect(Buffer.concat(socket.written).length).toBe(before);
    expect(seen).not.toContain('res error');
  });

  it('a fetch handler sees request.signal abort at once', async () => {
    let signal: AbortSignal | undefined;
    const { socket } = await atWork(fetchHandler({
      fetch(request) {
        signal = request.signal;
        return new Promise<Response>(() => {});
      },
    }, opts));
    expect(signal!.aborted).toBe(false);
    leave(socket);
    await settle();
    expect(signal!.aborted).toBe(true);
  });
});
