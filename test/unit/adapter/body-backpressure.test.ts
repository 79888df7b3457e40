// Request body flow control through a real connection: every pause has its resume (issue 23's question).

import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { fetchHandler } from '../../../src/adapter/fetch.js';
import { nodeHandler } from '../../../src/adapter/node.js';
import type { RequestHandler } from '../../../src/adapter/types.js';
import { FcgiConnection } from '../../../src/protocol/fcgi/connection.js';
import type { FcgiRequest } from '../../../src/protocol/fcgi/request.js';
import { silentLog } from '../../helpers/adapter.js';
import { begin, params, request, stdin } from '../../helpers/fcgi-records.js';
import { waitFor } from '../../helpers/load.js';
import { MemorySocket, settle } from '../../helpers/memory-socket.js';

const opts = { debug: false, log: silentLog };
const POST = (length: number) => ({ REQUEST_METHOD: 'POST', REQUEST_URI: '/', CONTENT_LENGTH: String(length) });
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Feeds `bytes` in 16 KiB pieces, as socket reads would, each once the connection reads again. */
async function feed(socket: MemorySocket, bytes: Buffer): Promise<void> {
  for (let o = 0; o < bytes.length; o += 16384) {
    await waitFor(() => !socket.isPaused() || socket.readableLength === 0, 30_000, 'the connection reading');
    socket.push(bytes.subarray(o, o + 16384));
    await settle();
  }
}

function serving(handler: RequestHandler): { socket: MemorySocket; connection: FcgiConnection } {
  const socket = new MemorySocket();
  const connection = new FcgiConnection(socket);
  connection.on('request', (req: FcgiRequest) => handler(req));
  return { socket, connection };
}

/** Answers "<bytes> <sha256>" once the body is in, reading it a piece at a time with pauses between. */
function slowReader(req: IncomingMessage, res: ServerResponse): void {
  const hash = createHash('sha256');
  let n = 0;
  req.on('data', (c: Buffer) => {
    n += c.length;
    hash.update(c);
    req.pause();
    setTimeout(() => req.resume(), 1);
  });
  req.on('end', () => res.end(`${n} ${hash.digest('hex')}`));
}

describe('request body backpressure', () => {
  const body = randomBytes(600_000);

  it('a (req, res) app that reads slowly gets every byte, and reading resumes each time', async () => {
    const { socket } = serving(nodeHandler(slowReader, opts));
    await feed(socket, request(1, POST(body.length), body));
    await waitFor(() => socket.stdout(1).length > 0, 30_000, 'the answer');
    expect(socket.stdout(1).toString()).toMatch(new RegExp(`\r\n\r\n${body.length} ${sha(body)}$`));
    expect(socket.isPaused()).toBe(false);
  });

  it('a (req, res) app that answers without reading a large body: the connection reads on, and serves the next request', async () => {
    // It answers once the body it leaves unread has filled the request stream (reading is paused
    // then), or is all in (a small one).
    const { socket } = serving(nodeHandler((req, res) => {
      const poll = setInterval(() => {
        if (req.readableLength < req.readableHighWaterMark && !req.complete) return;
        clearInterval(poll);
        res.end('not read');
      }, 1);
    }, opts));
    await feed(socket, Buffer.concat([request(1, POST(body.length), body), request(2, POST(3), 'abc')]));
    await waitFor(() => socket.stdout(2).length > 0, 30_000, 'the second answer');
    expect(socket.stdout(1).toString()).toMatch(/not read$/);
    expect(socket.isPaused()).toBe(false);
  });

  it('a fetch handler that streams the body slowly gets every byte; one that never reads it lets the next request in', async () => {
    const app = {
      async fetch(request: Request): Promise<Response> {
        if (new URL(request.url).pathname === '/skip') return new Response('skipped');
        const hash = createHash('sha256');
        let n = 0;
        for await (const chunk of request.body!) {
          n += chunk.length;
          hash.update(chunk);
          await new Promise((r) => setTimeout(r, 1));
        }
        return new Response(`${n} ${hash.digest('hex')}`);
      },
    };
    const { socket } = serving(fetchHandler(app, opts));
    const skip = { ...POST(body.length), REQUEST_URI: '/skip' };
    await feed(socket, Buffer.concat([request(1, POST(body.length), body), request(2, skip, body), request(3, POST(3), 'abc')]));
    await waitFor(() => socket.stdout(3).length > 0, 30_000, 'the third answer');
    expect(socket.stdout(1).toString()).toMatch(new RegExp(`${body.length} ${sha(body)}$`));
    expect(socket.stdout(2).toString()).toMatch(/skipped$/);
    expect(socket.stdout(3).toString()).toMatch(new RegExp(`3 ${sha(Buffer.from('abc'))}$`));
    expect(socket.isPaused()).toBe(false);
  });

  it('multiplexed requests: reading stays paused while either holds back, and resumes once neither does', async () => {
    const socket = new MemorySocket();
    const connection = new FcgiConnection(socket);
    const held: FcgiRequest[] = [];
    connection.on('request', (req: FcgiRequest) => {
      held.push(req);
      req.attach({ stdin: () => req.pause(), abort: () => {}, drain: () => {} });
    });
    socket.push(Buffer.concat([begin(1), params(1, {}), begin(2), params(2, {}), stdin(1, 'x').subarray(0, 9), stdin(2, 'y').subarray(0, 9)]));
    await settle();
    expect(held.map((r) => r.paused)).toEqual([true, true]);
    held[0]!.end();
    expect(socket.isPaused()).toBe(true);
    held[1]!.resume();
    expect(socket.isPaused()).toBe(false);
  });
});
