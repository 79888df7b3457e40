// Accepted sockets reading into the worker's shared buffer: chunks, end, and pausing.

import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { readIntoSharedBuffer } from '../../../../src/protocol/fcgi/reader.js';
import { waitFor } from '../../../helpers/load.js';

describe('readIntoSharedBuffer', () => {
  let server: net.Server | undefined;
  afterEach(() => server?.close());

  /** A server whose connections read into the shared buffer; resolves with the accepted socket and a client. */
  async function pair(onChunk: (chunk: Buffer, socket: net.Socket) => void): Promise<{ accepted: net.Socket; client: net.Socket; using: boolean }> {
    let using = false;
    const accepted = new Promise<net.Socket>((resolve) => {
      server = net.createServer((socket) => {
        using = readIntoSharedBuffer(socket, (chunk) => onChunk(chunk, socket));
        resolve(socket);
      });
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const client = net.connect((server!.address() as net.AddressInfo).port, '127.0.0.1');
    return { accepted: await accepted, client, using };
  }

  it('hands on every byte in order, as views of one buffer, then ends', async () => {
    const got: Buffer[] = [];
    const views = new Set<ArrayBufferLike>();
    const { accepted, client, using } = await pair((chunk) => {
      views.add(chunk.buffer);
      got.push(Buffer.from(chunk));
    });
    expect(using).toBe(true);
    const sent = Buffer.alloc(1_000_000);
    for (let i = 0; i < sent.length; i++) sent[i] = (i * 7) & 255;
    client.end(sent);
    await new Promise((r) => accepted.once('end', r));
    expect(Buffer.concat(got).equals(sent)).toBe(true);
    expect(views.size).toBe(1);
    accepted.destroy();
  });

  it('stops reading while paused and goes on when resumed', async () => {
    let bytes = 0;
    const { accepted, client } = await pair((chunk, socket) => {
      bytes += chunk.length;
      socket.pause();
    });
    client.write(Buffer.alloc(200_000));
    await waitFor(() => bytes > 0, 30_000, 'the first chunk');
    const whilePaused = bytes;
    expect(whilePaused).toBeLessThanOrEqual(64 * 1024);
    // Nothing more while paused: a wait for something not to happen (load can only make it easier to pass).
    await new Promise((r) => setTimeout(r, 100));
    expect(bytes).toBe(whilePaused);
    accepted.resume();
    await waitFor(() => bytes > whilePaused, 30_000, 'more bytes after resume()');
    client.destroy();
    accepted.destroy();
  });
});
