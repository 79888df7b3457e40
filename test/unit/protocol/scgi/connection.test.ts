import { describe, expect, it, vi } from 'vitest';
import type { RequestSink } from '../../../../src/protocol/fcgi/request.js';
import { ScgiConnection, type ScgiRequest } from '../../../../src/protocol/scgi/connection.js';
import { MemorySocket, settle } from '../../../helpers/memory-socket.js';

/** An SCGI request as nginx's scgi_pass sends it. */
function scgi(headers: [string, string][], body = ''): Buffer {
  const block = Buffer.from(headers.map(([k, v]) => `${k}\0${v}\0`).join(''), 'latin1');
  return Buffer.concat([Buffer.from(`${block.length}:`), block, Buffer.from(','), Buffer.from(body)]);
}

const GET: [string, string][] = [['CONTENT_LENGTH', '0'], ['SCGI', '1'], ['REQUEST_METHOD', 'GET'], ['REQUEST_URI', '/hello?x=1']];

function echo() {
  const socket = new MemorySocket();
  const connection = new ScgiConnection(socket, { maxParamsBytes: 1000 });
  const errors: Error[] = [];
  const seen: ScgiRequest[] = [];
  connection.on('protocolError', (e: Error) => errors.push(e));
  connection.on('request', (req: ScgiRequest) => {
    seen.push(req);
    const chunks: Buffer[] = [];
    const sink: RequestSink = {
      stdin(chunk) {
        if (chunk) chunks.push(Buffer.from(chunk));
        else {
          req.write(`Status: 200 OK\r\n\r\n${req.params.REQUEST_URI}:${Buffer.concat(chunks).toString()}`);
          req.end();
        }
      },
      abort() {},
      drain() {},
    };
    req.attach(sink);
  });
  return { socket, connection, errors, seen };
}

describe('SCGI connection', () => {
  it('a graceful close gives a silent connection its grace, then reads what has arrived before it ends', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout'] });
    try {
      const { socket, connection, seen } = echo();
      connection.close();
      // The grace passes while the request waits to be read (a loaded machine wakes late).
      vi.advanceTimersByTime(2000);
      socket.push(scgi(GET));
      await settle();
      expect(seen).toHaveLength(1);
      expect(Buffer.concat(socket.written).toString()).toContain('/hello?x=1:');
    } finally {
      vi.useRealTimers();
    }
  });

  it('a silent connection ended by a graceful close starts nothing it receives later', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout'] });
    try {
      const { socket, connection, seen } = echo();
      connection.close();
      vi.advanceTimersByTime(2000);
      await settle();
      expect(socket.ended).toBe(true);
      socket.push(scgi(GET));
      await settle();
      expect(seen).toEqual([]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('parses the netstring headers and answers with the CGI response, then closes', async () => {
    const { socket, seen } = echo();
    socket.push(scgi([['CONTENT_LENGTH', '5'], ['SCGI', '1'], ['REQUEST_URI', '/p']], 'hello'));
    await settle();
    expect(seen[0]!.params).toMatchObject({ CONTENT_LENGTH: '5', SCGI: '1', REQUEST_URI: '/p' });
    expect(Buffer.concat(socket.written).toString()).toBe('Status: 200 OK\r\n\r\n/p:hello');
    expect(socket.ended).toBe(true);
  });

  it('gives the same request for the bytes split at every offset', async () => {
    const bytes = scgi([['CONTENT_LENGTH', '3'], ['SCGI', '1'], ['REQUEST_URI', '/split']], 'abc');
    for (let i = 0; i <= bytes.length; i++) {
      const { socket } = echo();
      socket.push(bytes.subarray(0, i));
      socket.push(bytes.subarray(i));
      await settle();
      expect(Buffer.concat(socket.written).toString()).toBe('Status: 200 OK\r\n\r\n/split:abc');
    }
  });

  describe('malformed input closes only that connection', () => {
    it.each([
      ['a length that is not a number', Buffer.from('12a:xx')],
      ['a length of more than ten digits', Buffer.from('12345678901:')],
      ['headers beyond the size limit', Buffer.from('5000:')],
      ['a netstring without its comma', Buffer.concat([scgi(GET).subarray(0, -1), Buffer.from(';')])],
      ['CONTENT_LENGTH not first', scgi([['SCGI', '1'], ['CONTENT_LENGTH', '0']])],
      ['no SCGI=1 header', scgi([['CONTENT_LENGTH', '0'], ['REQUEST_URI', '/']])],
      ['an odd number of header strings', Buffer.from('17:CONTENT_LENGTH\x000\x00X\x00,')],
    ])('%s', async (_what, bytes) => {
      const bad = echo();
      const good = echo();
      bad.socket.push(bytes);
      good.socket.push(scgi(GET));
      await settle();
      expect(bad.errors).toHaveLength(1);
      expect(bad.errors[0]!.message).toMatch(/^scgi: /);
      expect(bad.socket.destroyed).toBe(true);
      expect(Buffer.concat(good.socket.written).toString()).toContain('/hello?x=1');
    });

    it('a connection that ends inside the headers', async () => {
      const { socket, errors } = echo();
      socket.push(scgi(GET).subarray(0, 10));
      socket.push(null);
      await settle();
      expect(errors[0]!.message).toMatch(/ended inside the headers/);
    });
  });

  it('aborts the request when the connection ends before the body is complete', async () => {
    const socket = new MemorySocket();
    const connection = new ScgiConnection(socket);
    let aborted: Error | undefined;
    connection.on('request', (req: ScgiRequest) => req.attach({ stdin: () => {}, abort: (e) => (aborted = e), drain: () => {} }));
    socket.push(scgi([['CONTENT_LENGTH', '100'], ['SCGI', '1']], 'short'));
    socket.push(null);
    await settle();
    expect(aborted?.message).toMatch(/before the request body was complete/);
  });

  it('aborts a request still at work when the web server closes the connection (its client left)', async () => {
    const socket = new MemorySocket();
    const connection = new ScgiConnection(socket);
    let aborted: Error | undefined;
    const reported: ScgiRequest[] = [];
    connection.on('abort', (req: ScgiRequest) => reported.push(req));
    connection.on('request', (req: ScgiRequest) => req.attach({ stdin: () => {}, abort: (e) => (aborted = e), drain: () => {} }));
    socket.push(scgi(GET));
    await settle();
    expect(aborted).toBeUndefined();
    socket.push(null);
    await settle();
    expect(aborted?.message).toMatch(/the web server closed the connection/);
    expect(reported).toHaveLength(1);
  });
});
