// How a routed request goes to its worker and its response comes back: FastCGI records or SCGI's netstring.

import { encodeParams, encodeRecord } from '../../protocol/fcgi/codec.js';
import { FCGI_ABORT_REQUEST, FCGI_BEGIN_REQUEST, FCGI_END_REQUEST, FCGI_KEEP_CONN, FCGI_MAX_CONTENT, FCGI_PARAMS, FCGI_RESPONDER, FCGI_STDERR, FCGI_STDIN, FCGI_STDOUT } from '../../protocol/fcgi/constants.js';
import { RecordParser } from '../../protocol/fcgi/parser.js';

/** What comes back from the worker that serves the request. */
export interface Reply {
  stdout(chunk: Buffer): void;
  stderr(chunk: Buffer): void;
  end(appStatus: number): void;
}

/** One request's framing on a connection of its own to the worker that serves it. */
export interface Framing {
  begin(params: Record<string, string>): Buffer[];
  stdin(chunk: Buffer): Buffer[];
  stdinEnd(): Buffer[];
  /** The client left: what tells the worker (empty: closing the connection tells it). */
  abort(): Buffer[];
  /** Bytes from the worker; calls `reply` as the response comes. */
  push(chunk: Buffer): void;
  /** The worker closed the connection: whether that completed the response. */
  closed(): boolean;
}

/** The id of the one request on each connection: the web server's id stays with the web server. */
const ID = 1;

function records(type: number, bytes: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += FCGI_MAX_CONTENT) out.push(encodeRecord(type, ID, bytes.subarray(at, at + FCGI_MAX_CONTENT)));
  return out;
}

/** FastCGI (spec 3-6), as a web server speaks it: one request at a time, FCGI_KEEP_CONN (the connection is pooled). */
export function fcgiFraming(reply: Reply): Framing {
  let ended = false;
  const parser = new RecordParser((type, id, content) => {
    if (id !== ID || ended) return;
    if (type === FCGI_STDOUT && content.length > 0) reply.stdout(content);
    else if (type === FCGI_STDERR && content.length > 0) reply.stderr(content);
    else if (type === FCGI_END_REQUEST) {
      ended = true;
      reply.end(content.length >= 4 ? content.readUInt32BE(0) : 0);
    }
  });
  return {
    begin(params) {
      const body = Buffer.alloc(8);
      body.writeUInt16BE(FCGI_RESPONDER, 0);
      body[2] = FCGI_KEEP_CONN;
      return [encodeRecord(FCGI_BEGIN_REQUEST, ID, body), ...records(FCGI_PARAMS, encodeParams(Object.entries(params))), encodeRecord(FCGI_PARAMS, ID)];
    },
    stdin: (chunk) => records(FCGI_STDIN, chunk),
    stdinEnd: () => [encodeRecord(FCGI_STDIN, ID)],
    abort: () => [encodeRecord(FCGI_ABORT_REQUEST, ID)],
    push: (chunk) => parser.push(chunk),
    closed: () => ended,
  };
}

/** SCGI: CONTENT_LENGTH first, the body, then the response until the worker closes. */
export function scgiFraming(reply: Reply): Framing {
  let answered = false;
  return {
    begin(params) {
      let text = `CONTENT_LENGTH\0${params.CONTENT_LENGTH ?? '0'}\0`;
      for (const name in params) if (name !== 'CONTENT_LENGTH') text += `${name}\0${params[name]}\0`;
      const head = Buffer.from(text, 'latin1');
      return [Buffer.from(`${head.length}:`, 'latin1'), head, Buffer.from(',', 'latin1')];
    },
    stdin: (chunk) => [chunk],
    stdinEnd: () => [],
    abort: () => [],
    push(chunk) {
      answered = true;
      reply.stdout(chunk);
    },
    // SCGI has no end marker: the close is the end (what the web server would take it for too).
    closed() {
      if (answered) reply.end(0);
      return answered;
    },
  };
}
