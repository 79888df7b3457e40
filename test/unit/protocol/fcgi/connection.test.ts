import { describe, expect, it, vi } from 'vitest';
import { decodeParams, encodeParams, encodeRecord } from '../../../../src/protocol/fcgi/codec.js';
import * as C from '../../../../src/protocol/fcgi/constants.js';
import { FcgiConnection } from '../../../../src/protocol/fcgi/connection.js';
import type { FcgiRequest, RequestSink } from '../../../../src/protocol/fcgi/request.js';
import { begin, params, request, stdin } from '../../../helpers/fcgi-records.js';
import { MemorySocket, settle } from '../../../helpers/memory-socket.js';

/** A connection whose handler answers "<id>:<body>" once the body has arrived. */
function echoConnection(options = {}) {
  const socket = new MemorySocket();
  const connection = new FcgiConnection(socket, options);
  const errors: Error[] = [];
  const seen: FcgiRequest[] = [];
  connection.on('protocolError', (e: Error) => errors.push(e));
  connection.on('request', (req: FcgiRequest) => {
    seen.push(req);
    const chunks: Buffer[] = [];
    req.attach({
      stdin(chunk) {
        if (chunk) chunks.push(Buffer.from(chunk));
        else {
          req.write(`${req.id}:${Buffer.concat(chunks).toString()}`);
          req.end(0);
        }
      },
      abort() {},
      drain() {},
    });
  });
  return { socket, connection, errors, seen };
}

function endRecords(socket: MemorySocket) {
  return socket.records().filter((r) => r.type === C.FCGI_END_REQUEST);
}

describe('FastCGI connection', () => {
  it('answers a RESPONDER request with STDOUT, an empty STDOUT and END_REQUEST', async () => {
    const { socket, seen } = echoConnection();
    socket.push(request(1, { REQUEST_METHOD: 'POST' }, 'hello'));
    await settle();
    expect(seen[0]!.role).toBe('RESPONDER');
    expect(seen[0]!.params).toEqual({ REQUEST_METHOD: 'POST' });
    const records = socket.records();
    expect(records.map((r) => r.type)).toEqual([C.FCGI_STDOUT, C.FCGI_STDOUT, C.FCGI_END_REQUEST]);
    expect(records[0]!.content.toString()).toBe('1:hello');
    expect(records[1]!.content.length).toBe(0);
    expect(records[2]!.content.readUInt32BE(0)).toBe(0);
    expect(records[2]!.content[4]).toBe(C.FCGI_REQUEST_COMPLETE);
  });

  it('keeps the connection after END_REQUEST when FCGI_KEEP_CONN is set, and closes it when clear', async () => {
    const kept = echoConnection();
    kept.socket.push(request(1, {}, '', true));
    await settle();
    expect(kept.socket.ended).toBe(false);
    const closed = echoConnection();
    closed.socket.push(request(1, {}, '', false));
    await settle();
    expect(endRecords(closed.socket)).toHaveLength(1);
    expect(closed.socket.ended).toBe(true);
  });

  it('serves several requests multiplexed on one connection', async () => {
    const { socket } = echoConnection();
    // Interleave record by record: BEGIN 1, BEGIN 2, PARAMS 1...
    socket.push(Buffer.concat([begin(1), begin(2), params(2, { B: '2' }), params(1, { A: '1' }), stdin(2, 'second'), stdin(1, 'first')]));
    await settle();
    expect(socket.stdout(1).toString()).toBe('1:first');
    expect(socket.stdout(2).toString()).toBe('2:second');
    expect(endRecords(socket).map((r) => r.requestId).sort()).toEqual([1, 2]);
  });

  it('decodes a name-value pair that straddles two PARAMS records', async () => {
    const { socket, seen } = echoConnection();
    const pairs = encodeParams([['SCRIPT_NAME', '/mysite.fcgi'], ['PATH_INFO', '/hello']]);
    socket.push(Buffer.concat([
      begin(1),
      encodeRecord(C.FCGI_PARAMS, 1, pairs.subarray(0, 5)),
      encodeRecord(C.FCGI_PARAMS, 1, pairs.subarray(5)),
      encodeRecord(C.FCGI_PARAMS, 1),
      stdin(1),
    ]));
    await settle();
    expect(seen[0]!.params).toEqual({ SCRIPT_NAME: '/mysite.fcgi', PATH_INFO: '/hello' });
  });

  it('answers GET_VALUES with the names it knows and leaves the others out', async () => {
    const { socket } = echoConnection({ maxConns: 10, maxReqs: 50 });
    const asked = encodeParams([['FCGI_MAX_CONNS', ''], ['FCGI_MAX_REQS', ''], ['FCGI_MPXS_CONNS', ''], ['NOT_A_VALUE', ''], ['toString', ''], ['constructor', ''], ['__proto__', '']]);
    socket.push(encodeRecord(C.FCGI_GET_VALUES, 0, asked));
    await settle();
    const [result] = socket.records();
    expect(result!.type).toBe(C.FCGI_GET_VALUES_RESULT);
    expect(decodeParams(result!.content)).toEqual({ FCGI_MAX_CONNS: '10', FCGI_MAX_REQS: '50', FCGI_MPXS_CONNS: '1' });
  });

  it('answers an unknown management record with FCGI_UNKNOWN_TYPE naming its type', async () => {
    const { socket, errors } = echoConnection();
    socket.push(encodeRecord(200, 0, Buffer.from('??')));
    await settle();
    const [result] = socket.records();
    expect(result!.type).toBe(C.FCGI_UNKNOWN_TYPE);
    expect(result!.content[0]).toBe(200);
    expect(errors).toEqual([]);
  });

  it('refuses an unknown role with END_REQUEST(FCGI_UNKNOWN_ROLE) and keeps the connection', async () => {
    const { socket } = echoConnection();
    socket.push(begin(1, 9));
    socket.push(request(2, {}, 'ok'));
    await settle();
    const ends = endRecords(socket);
    expect(ends[0]!.requestId).toBe(1);
    expect(ends[0]!.content[4]).toBe(C.FCGI_UNKNOWN_ROLE);
    expect(socket.stdout(2).toString()).toBe('2:ok');
  });

  it('refuses requests beyond FCGI_MAX_REQS with FCGI_OVERLOADED', async () => {
    const { socket } = echoConnection({ maxReqs: 1 });
    socket.push(Buffer.concat([begin(1), begin(2)]));
    await settle();
    const ends = endRecords(socket);
    expect(ends.map((r) => [r.requestId, r.content[4]])).toEqual([[2, C.FCGI_OVERLOADED]]);
  });

  it('serves the AUTHORIZER and FILTER roles; a FILTER gets FCGI_DATA after STDIN', async () => {
    const socket = new MemorySocket();
    const connection = new FcgiConnection(socket);
    const events: string[] = [];
    connection.on('request', (req: FcgiRequest) => {
      const sink: RequestSink = {
        stdin: (c) => events.push(`${req.role} stdin ${c ? c.toString() : 'end'}`),
        data: (c) => {
          events.push(`${req.role} data ${c ? c.toString() : 'end'}`);
          if (!c) req.end(0);
        },
        abort: () => {},
        drain: () => {},
      };
      req.attach(sink);
    });
    socket.push(Buffer.concat([begin(1, C.FCGI_AUTHORIZER), params(1, {}), stdin(1)]));
    socket.push(Buffer.concat([
      begin(2, C.FCGI_FILTER), params(2, { FCGI_DATA_LENGTH: '4' }), stdin(2, 'in'),
      encodeRecord(C.FCGI_DATA, 2, Buffer.from('file')), encodeRecord(C.FCGI_DATA, 2),
    ]));
    await settle();
    expect(events).toEqual(['AUTHORIZER stdin end', 'FILTER stdin in', 'FILTER stdin end', 'FILTER data file', 'FILTER data end']);
  });

  it('aborts for real: the app hears it, END_REQUEST goes once, later output is dropped', async () => {
    const socket = new MemorySocket();
    const connection = new FcgiConnection(socket);
    const abort = vi.fn();
    let held: FcgiRequest | undefined;
    connection.on('request', (req: FcgiRequest) => {
      held = req;
      req.attach({ stdin: () => {}, abort, drain: () => {} });
    });
    socket.push(Buffer.concat([begin(1), params(1, {})]));
    socket.push(encodeRecord(C.FCGI_ABORT_REQUEST, 1));
    await settle();
    expect(abort).toHaveBeenCalledOnce();
    expect(held!.write('late')).toBe(true);
    held!.end(0);
    await settle();
    expect(endRecords(socket)).toHaveLength(1);
    expect(socket.stdout(1).length).toBe(0);
  });

  describe('a client that leaves (issue 16)', () => {
    /** Requests whose input is complete and whose answer has not begun: the app is still at work. */
    function working(ids: number[]) {
      const socket = new MemorySocket();
      const connection = new FcgiConnection(socket);
      const aborted: number[] = [];
      const reported: number[] = [];
      const held = new Map<number, FcgiRequest>();
      connection.on('abort', (req: FcgiRequest) => reported.push(req.id));
      connection.on('request', (req: FcgiRequest) => {
        held.set(req.id, req);
        req.attach({ stdin: () => {}, abort: () => aborted.push(req.id), drain: () => {} });
      });
      for (const id of ids) socket.push(request(id, { REQUEST_METHOD: 'GET' }));
      return { socket, connection, aborted, reported, held };
    }

    it('aborts every request, answered in part or not, when the web server closes the connection', async () => {
      const { socket, aborted, reported, held } = working([1, 2]);
      await settle();
      held.get(1)!.write('Status: 200 OK\r\n\r\npartial');
      socket.push(null);
      await settle();
      expect(aborted.sort()).toEqual([1, 2]);
      expect(reported.sort()).toEqual([1, 2]);
      expect(socket.ended).toBe(true);
    });

    it('aborts only the request named by FCGI_ABORT_REQUEST; the one beside it is answered', async () => {
      const { socket, aborted, held } = working([1, 2]);
      socket.push(encodeRecord(C.FCGI_ABORT_REQUEST, 1));
      await settle();
      expect(aborted).toEqual([1]);
      held.get(2)!.write('Status: 200 OK\r\n\r\ntwo');
      held.get(2)!.end(0);
      await settle();
      expect(socket.stdout(2).toString()).toContain('two');
      expect(endRecords(socket).map((r) => r.requestId).sort()).toEqual([1, 2]);
    });

    it('reports no client leaving when runfcgi itself closes the connection', async () => {
      const { connection, aborted, reported } = working([1]);
      await settle();
      connection.destroy();
      await settle();
      expect(aborted).toEqual([1]);
      expect(reported).toEqual([]);
    });
  });

  it('splits STDOUT into records of at most 65535 bytes and writes STDERR', async () => {
    const socket = new MemorySocket();
    const connection = new FcgiConnection(socket);
    connection.on('request', (req: FcgiRequest) => {
      req.attach({ stdin: () => {}, abort: () => {}, drain: () => {} });
      req.write(Buffer.alloc(150_000, 'a'));
      req.write('b'.repeat(70_000));
      req.writeStderr('oops');
      req.end(3);
    });
    socket.push(request(1, {}));
    await settle();
    const out = socket.records().filter((r) => r.type === C.FCGI_STDOUT);
    expect(Math.max(...out.map((r) => r.content.length))).toBe(65535);
    expect(socket.stdout(1).length).toBe(220_000);
    expect(socket.stdout(1, C.FCGI_STDERR).toString()).toBe('oops');
    expect(endRecords(socket)[0]!.content.readUInt32BE(0)).toBe(3);
  });

  it('pauses reading while the app holds back, and resumes when it reads again', async () => {
    const socket = new MemorySocket();
    const connection = new FcgiConnection(socket);
    let held: FcgiRequest | undefined;
    connection.on('request', (req: FcgiRequest) => {
      held = req;
      req.attach({ stdin: () => req.pause(), abort: () => {}, drain: () => {} });
    });
    socket.push(Buffer.concat([begin(1), params(1, {}), encodeRecord(C.FCGI_STDIN, 1, Buffer.from('x'))]));
    await settle();
    expect(socket.isPaused()).toBe(true);
    held!.resume();
    expect(socket.isPaused()).toBe(false);
  });

  describe('malformed input closes only that connection', () => {
    it.each([
      ['a bad version', Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')],
      ['a short BEGIN_REQUEST body', encodeRecord(C.FCGI_BEGIN_REQUEST, 1, Buffer.alloc(3))],
      ['a second BEGIN_REQUEST for an active id', Buffer.concat([begin(1), begin(1)])],
      ['STDIN before the params ended', Buffer.concat([begin(1), encodeRecord(C.FCGI_STDIN, 1, Buffer.from('x'))])],
      ['PARAMS after the params ended', Buffer.concat([begin(1), params(1, {}), encodeRecord(C.FCGI_PARAMS, 1, Buffer.from([1, 1, 65, 66]))])],
      ['garbage name-value pairs', Buffer.concat([begin(1), encodeRecord(C.FCGI_PARAMS, 1, Buffer.from([50, 50, 1])), encodeRecord(C.FCGI_PARAMS, 1)])],
      ['a record type the application never receives', encodeRecord(C.FCGI_STDOUT, 1, Buffer.from('x'))],
    ])('%s', async (_what, bytes) => {
      const bad = echoConnection({ maxParamsBytes: 1000 });
      const good = echoConnection({ maxParamsBytes: 1000 });
      bad.socket.push(bytes);
      good.socket.push(request(1, {}, 'fine'));
      await settle();
      expect(bad.errors).toHaveLength(1);
      expect(bad.errors[0]!.message).toMatch(/^fcgi: /);
      expect(bad.socket.destroyed).toBe(true);
      expect(good.socket.stdout(1).toString()).toBe('1:fine');
      expect(good.socket.destroyed).toBe(false);
    });

    it('a connection that ends inside a record', async () => {
      const { socket, errors } = echoConnection();
      socket.push(request(1, {}).subarray(0, 20));
      socket.push(null);
      await settle();
      expect(errors[0]!.message).toMatch(/ended inside a record/);
      expect(socket.destroyed).toBe(true);
    });
  });

  it.each([
    ['bytes', { maxParamsBytes: 1000 }, params(1, { BIG: 'x'.repeat(2000) })],
    ['count', { maxParams: 10 }, params(1, Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`P${i}`, 'v'])))],
  ])('answers 431 to a request over the params limit (%s), ignores the rest of it, and serves the next', async (_what, limits, paramRecords) => {
    const { socket, connection, errors } = echoConnection(limits);
    const limited: string[] = [];
    connection.on('limit', (why: string) => limited.push(why));
    socket.push(Buffer.concat([begin(1), paramRecords, stdin(1, 'ignored body'), request(2, { A: '1' }, 'next')]));
    await settle();
    expect(errors).toEqual([]);
    expect(limited).toHaveLength(1);
    expect(socket.stdout(1).toString()).toMatch(/^Status: 431 Request Header Fields Too Large\r\n/);
    expect(socket.stdout(2).toString()).toBe('2:next');
    expect(socket.destroyed).toBe(false);
  });

  it('a graceful close ends an idle kept-alive connection at once', async () => {
    const { socket, connection } = echoConnection();
    socket.push(request(1, {}, 'x'));
    await settle();
    connection.close();
    await settle();
    expect(socket.ended).toBe(true);
  });

  it('after a graceful close ends an idle kept-alive connection, a request arriving on it starts nothing', async () => {
    // The web server sent it before our FIN reached it: no answer could be written after the end,
    // and the web server, which sees the FIN first, retries it elsewhere.
    const { socket, connection, seen } = echoConnection();
    socket.push(request(1, {}, 'x'));
    await settle();
    connection.close();
    await settle();
    expect(socket.ended).toBe(true);
    socket.push(request(2, {}, 'too late'));
    await settle();
    expect(seen.map((r) => r.id)).toEqual([1]);
    expect(connection.activeRequests).toBe(0);
    expect(socket.records().filter((r) => r.requestId === 2)).toEqual([]);
  });

  it('a graceful close first reads what has arrived: a request already sent is served, then the connection ends', async () => {
    const { socket, connection, seen } = echoConnection();
    socket.push(request(1, {}, 'x'));
    await settle();
    connection.close();
    socket.push(request(2, {}, 'already here'));
    await settle();
    expect(seen.map((r) => r.id)).toEqual([1, 2]);
    expect(socket.stdout(2).toString()).toBe('2:already here');
    expect(socket.ended).toBe(true);
  });

  it('a graceful close while a record is half in waits for it, serves the request it begins, then ends', async () => {
    const { socket, connection, seen } = echoConnection();
    socket.push(request(1, {}, 'x'));
    await settle();
    const next = request(2, {}, 'in flight');
    socket.push(next.subarray(0, 5));
    await settle();
    connection.close();
    await settle();
    expect(socket.ended).toBe(false);
    socket.push(next.subarray(5));
    await settle();
    expect(seen.map((r) => r.id)).toEqual([1, 2]);
    expect(socket.stdout(2).toString()).toBe('2:in flight');
    expect(socket.ended).toBe(true);
  });

  it('a graceful close lets a connection that has carried no request yet send its first one', async () => {
    const { socket, connection } = echoConnection();
    connection.close();
    await settle();
    expect(socket.ended).toBe(false);
    socket.push(request(1, {}, 'late'));
    await settle();
    expect(socket.stdout(1).toString()).toBe('1:late');
    expect(socket.ended).toBe(true);
  });

  it('ignores records for request ids that are not active', async () => {
    const { socket, errors } = echoConnection();
    socket.push(Buffer.concat([stdin(7, 'stray'), encodeRecord(C.FCGI_ABORT_REQUEST, 8), request(1, {}, 'ok')]));
    await settle();
    expect(errors).toEqual([]);
    expect(socket.stdout(1).toString()).toBe('1:ok');
  });
});
