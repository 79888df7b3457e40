// Writes a fetch handler's Response as a CGI reply: known bodies in one write, streams with backpressure.

import { STATUS_CODES } from 'node:http';
import { withoutDefaultStatus } from '../protocol/cgi.js';
import { isDisturbed, type FetchSink } from './fetch-body.js';
import { isFastResponse, materialise, toPlain, type PlainResponse } from './fast-response.js';
import { describeValue, foreignParts } from './response-like.js';
import type { AdapterOptions, GatewayRequest } from './types.js';

/** A body we can write without a web stream, or a stream (web or Node) to copy. */
type Body = string | Uint8Array | Blob | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array> | null;

/** What srvx's FastResponse (h3 v2, Nitro v3) turns itself into without building a Response. */
interface SrvxResponse {
  _toNodeResponse(): { status: number; statusText?: string; headers: string[]; body?: Body | undefined };
}

interface ResponseState {
  status: number;
  statusText: string;
  body: { stream: ReadableStream<Uint8Array>; source: unknown } | null;
}

/**
 * Node 20 and 22 keep a Response's state under a symbol, its body's
 * `source` among it: the string or bytes it was made from. With it a known
 * body is written as it is; the web stream made for it is never read.
 */
const STATE = Object.getOwnPropertySymbols(new Response('')).find((s) => s.description === 'state');
/** Whether a native Response's known body is written whole (with its Content-Length), or streamed. */
export const READS_NATIVE_BODIES = STATE !== undefined;

function knownBody(response: Response): Body | undefined {
  if (STATE === undefined) return undefined;
  const body = (response as unknown as Record<symbol, ResponseState | undefined>)[STATE]?.body;
  if (body === undefined) return undefined;
  if (body === null) return null;
  // A body the app began to read is no longer all there in `source`.
  if (body.stream.locked || isDisturbed(body.stream)) return undefined;
  const source = body.source;
  if (typeof source === 'string' || source instanceof Uint8Array || source instanceof Blob) return source;
  return undefined; // FormData (the multipart bytes exist only in the stream), streams
}

function statusLine(status: number, statusText: string | undefined): string {
  return `Status: ${status} ${statusText || STATUS_CODES[status] || ''}\r\n`;
}

/** The CGI head of a real Response: every header, each Set-Cookie on its own line. */
function responseHead(response: Response): string {
  return headersHead(statusLine(response.status, response.statusText), response.headers, undefined);
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** A header value as Headers keeps it: no surrounding whitespace, no CR, LF or NUL. */
const PLAIN_VALUE = /^(?:[\x21-\x7e\x80-\xff](?:[\t\x20-\x7e\x80-\xff]*[\x21-\x7e\x80-\xff])?)?$/;

/**
 * The CGI head of headers as the app gave them (a record, pairs or a
 * Headers), checked as Headers would check them: anything a Headers would
 * refuse or rewrite goes through a real Headers instead.
 */
function initHead(status: number, statusText: string, init: HeadersInit | undefined, contentType: string | undefined): string {
  if (init instanceof Headers) return headersHead(statusLine(status, statusText), init, contentType);
  let text = statusLine(status, statusText);
  let typed = contentType === undefined;
  const line = (name: string, value: unknown): boolean => {
    const v = typeof value === 'string' ? value : String(value);
    if (!TOKEN.test(name) || !PLAIN_VALUE.test(v)) return false;
    const lower = name.toLowerCase();
    if (lower === 'content-type') typed = true;
    text += `${lower}: ${v}\r\n`;
    return true;
  };
  if (Array.isArray(init)) {
    for (const pair of init as unknown[][]) {
      if (pair.length !== 2 || !line(String(pair[0]), pair[1])) return headersHead(statusLine(status, statusText), new Headers(init), contentType);
    }
  } else if (init !== undefined) {
    const record = init as Record<string, unknown>;
    for (const name in record) {
      if (!line(name, record[name])) return headersHead(statusLine(status, statusText), new Headers(init), contentType);
    }
  }
  if (!typed) text += `content-type: ${contentType}\r\n`;
  return text;
}

function headersHead(text: string, headers: Headers, contentType: string | undefined): string {
  let cookies = false;
  let typed = contentType === undefined;
  for (const [name, value] of headers) {
    if (name === 'set-cookie') cookies = true;
    else text += `${name}: ${value}\r\n`;
    if (name === 'content-type') typed = true;
  }
  if (cookies) for (const cookie of headers.getSetCookie()) text += `set-cookie: ${cookie}\r\n`;
  if (!typed) text += `content-type: ${contentType}\r\n`;
  return text;
}

/** srvx's flat header list: name, value, name, value... */
function flatHead(status: number, statusText: string | undefined, headers: string[]): string {
  let text = statusLine(status, statusText);
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    const value = String(headers[i + 1]);
    // What Node's writeHead() would refuse must not reach the web server either.
    if (!TOKEN.test(name) || !PLAIN_VALUE.test(value)) throw new TypeError(`invalid response header ${JSON.stringify(name)}`);
    text += `${name}: ${value}\r\n`;
  }
  return text;
}

/**
 * Sends `response`. Returns undefined when it is all written, or a promise
 * while a body still streams (or a Blob is read). Throws for what is not a
 * Response nor like one (response-like.ts), before anything is written.
 */
export function sendResponse(fcgi: GatewayRequest, sink: FetchSink, response: unknown, head: boolean, access: AdapterOptions['access']): Promise<void> | undefined {
  let status: number;
  let text: string;
  let body: Body | undefined;
  let plain: PlainResponse | undefined;
  if (isFastResponse(response)) {
    plain = toPlain(response);
    // A body only a real Response can make (FormData): its head comes from that Response too.
    if (plain === undefined) response = materialise(response);
  }
  if (plain !== undefined) {
    status = plain.status;
    text = initHead(status, plain.statusText, plain.headers, plain.contentType);
    body = plain.body;
  } else if (typeof (response as SrvxResponse | null)?._toNodeResponse === 'function') {
    const parts = (response as SrvxResponse)._toNodeResponse();
    status = parts.status;
    text = flatHead(status, parts.statusText, parts.headers);
    body = parts.body ?? null;
  } else if (response instanceof Response) {
    status = response.status;
    text = responseHead(response);
    body = knownBody(response);
    if (body === undefined) body = response.body;
  } else {
    const parts = foreignParts(response);
    if (parts === undefined) throw new TypeError(`fetch handler returned ${describeValue(response)}, not a Response (nor an object with a numeric status, headers and a stream or null body)`);
    status = parts.status;
    text = headersHead(statusLine(status, parts.statusText), parts.headers, undefined);
    body = parts.body;
  }
  // As Node's server does for a body it has whole: the length, unless the app gave one.
  const length = typeof body === 'string' ? Buffer.byteLength(body) : body instanceof Uint8Array ? body.byteLength : body instanceof Blob ? body.size : undefined;
  const sized = text.includes('\r\ncontent-length:');
  if (length !== undefined && !sized) text += `content-length: ${length}\r\n`;
  text = withoutDefaultStatus(text);
  // A stream may hold a known body (a native Response's on Node 24+, where its source is private).
  if (body instanceof ReadableStream && !sized) return sendReady(fcgi, sink, text, body.getReader(), head, access, status);
  text += '\r\n';
  if (head || body === null) {
    discard(body);
    fcgi.write(text, 'latin1');
    return finish(fcgi, access, status);
  }
  fcgi.write(text, 'latin1');
  if (typeof body === 'string') {
    if (body.length > 0) fcgi.write(body);
    return finish(fcgi, access, status);
  }
  if (body instanceof Uint8Array) {
    if (body.length > 0) fcgi.write(Buffer.from(body.buffer, body.byteOffset, body.byteLength));
    return finish(fcgi, access, status);
  }
  if (body instanceof Blob) {
    return body.arrayBuffer().then((bytes) => {
      fcgi.write(Buffer.from(bytes));
      finish(fcgi, access, status);
    });
  }
  return streamBody(fcgi, sink, body, access, status);
}

/** A body that will not be sent (HEAD): its producer is told to stop. */
function discard(body: Body): void {
  const b = body as { cancel?: () => Promise<void>; destroy?: () => void } | null;
  if (typeof b?.cancel === 'function') void b.cancel().catch(() => {});
  else if (typeof b?.destroy === 'function') b.destroy();
}

function finish(fcgi: GatewayRequest, access: AdapterOptions['access'], status: number): undefined {
  access?.(fcgi, status);
  fcgi.end(0);
  return undefined;
}

type Read = ReadableStreamReadResult<Uint8Array>;

/** At most this much of a stream is read ahead to learn whether it is all there. */
const READY_BYTES = 64 * 1024;

/**
 * Reads what `reader` has ready in this turn of the event loop. When that is
 * the whole body, it is known whole: it gets its Content-Length, as from
 * Node's own server (and @hono/node-server). A body still being produced
 * (server-sent events) is not held back: its head leaves without a length,
 * and the read in progress is handed on.
 */
async function readReady(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<{ chunks: Uint8Array[]; bytes: number; pending: Promise<Read> | null }> {
  const turn = new Promise<undefined>((resolve) => setImmediate(resolve, undefined));
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  while (bytes <= READY_BYTES) {
    const read = reader.read();
    const result = await Promise.race([read, turn]);
    if (result === undefined) return { chunks, bytes, pending: read };
    if (result.done) return { chunks, bytes, pending: null };
    chunks.push(result.value);
    bytes += result.value.byteLength;
  }
  return { chunks, bytes, pending: reader.read() };
}

async function sendReady(
  fcgi: GatewayRequest,
  sink: FetchSink,
  text: string,
  reader: ReadableStreamDefaultReader<Uint8Array>,
  head: boolean,
  access: AdapterOptions['access'],
  status: number,
): Promise<void> {
  let ready: Awaited<ReturnType<typeof readReady>>;
  try {
    ready = await readReady(reader);
  } catch (error) {
    fcgi.fail();
    throw error;
  }
  if (ready.pending === null) text += `content-length: ${ready.bytes}\r\n`;
  fcgi.write(`${text}\r\n`, 'latin1');
  if (head || fcgi.ended) {
    if (ready.pending !== null) void reader.cancel().catch(() => {});
    finish(fcgi, access, status);
    return;
  }
  for (const chunk of ready.chunks) fcgi.write(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  if (ready.pending === null) {
    finish(fcgi, access, status);
    return;
  }
  let first: Promise<Read> | null = ready.pending;
  await stream(fcgi, sink, () => {
    const next = first ?? reader.read();
    first = null;
    return next;
  }, () => reader.cancel(), access, status);
}

/** Copies a streamed body, waiting for drain whenever the connection's buffer is full. */
function streamBody(
  fcgi: GatewayRequest,
  sink: FetchSink,
  body: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
  access: AdapterOptions['access'],
  status: number,
): Promise<void> {
  if (body instanceof ReadableStream) {
    const reader = body.getReader();
    return stream(fcgi, sink, () => reader.read(), () => reader.cancel(), access, status);
  }
  const iterator = body[Symbol.asyncIterator]();
  return stream(fcgi, sink, () => iterator.next(), async () => void (await iterator.return?.()), access, status);
}

async function stream(
  fcgi: GatewayRequest,
  sink: FetchSink,
  next: () => Promise<IteratorResult<Uint8Array | string, unknown> | Read>,
  cancel: () => Promise<unknown>,
  access: AdapterOptions['access'],
  status: number,
): Promise<void> {
  try {
    for (;;) {
      const { done, value } = await next();
      if (done) break;
      if (fcgi.ended) {
        // The web server went away: stop producing.
        await cancel();
        return;
      }
      const chunk = typeof value === 'string' ? Buffer.from(value) : Buffer.from(value!.buffer, value!.byteOffset, value!.byteLength);
      if (!fcgi.write(chunk)) await sink.waitForDrain();
    }
  } catch (error) {
    // Headers are gone: cut the reply short so the web server sees the failure.
    fcgi.fail();
    throw error;
  }
  finish(fcgi, access, status);
}
