// Writes a fetch handler's Response as a CGI reply: known bodies in one write, streams with backpressure.

import { STATUS_CODES } from 'node:http';
import { isDisturbed, type FetchSink } from './fetch-body.js';
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
  let text = statusLine(response.status, response.statusText);
  let cookies = false;
  for (const [name, value] of response.headers) {
    if (name === 'set-cookie') cookies = true;
    else text += `${name}: ${value}\r\n`;
  }
  if (cookies) for (const cookie of response.headers.getSetCookie()) text += `set-cookie: ${cookie}\r\n`;
  return text + '\r\n';
}

/** srvx's flat header list: name, value, name, value... */
function flatHead(status: number, statusText: string | undefined, headers: string[]): string {
  let text = statusLine(status, statusText);
  for (let i = 0; i < headers.length; i += 2) text += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return text + '\r\n';
}

/**
 * Sends `response`. Returns undefined when it is all written, or a promise
 * while a body still streams (or a Blob is read). Throws for what is not a
 * Response, before anything is written.
 */
export function sendResponse(fcgi: GatewayRequest, sink: FetchSink, response: unknown, head: boolean, access: AdapterOptions['access']): Promise<void> | undefined {
  let status: number;
  let text: string;
  let body: Body | undefined;
  if (typeof (response as SrvxResponse | null)?._toNodeResponse === 'function') {
    const plain = (response as SrvxResponse)._toNodeResponse();
    status = plain.status;
    text = flatHead(status, plain.statusText, plain.headers);
    body = plain.body ?? null;
  } else if (response instanceof Response) {
    status = response.status;
    text = responseHead(response);
    body = knownBody(response);
    if (body === undefined) body = response.body;
  } else {
    throw new TypeError(`fetch handler returned ${typeof response}, not a Response`);
  }
  if (head || body === null) {
    if (body !== null && typeof (body as ReadableStream).cancel === 'function') void (body as ReadableStream).cancel().catch(() => {});
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
  return stream(fcgi, sink, body, access, status);
}

function finish(fcgi: GatewayRequest, access: AdapterOptions['access'], status: number): undefined {
  access?.(fcgi, status);
  fcgi.end(0);
  return undefined;
}

/** Copies a streamed body, waiting for drain whenever the connection's buffer is full. */
async function stream(
  fcgi: GatewayRequest,
  sink: FetchSink,
  body: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
  access: AdapterOptions['access'],
  status: number,
): Promise<void> {
  const reader = body instanceof ReadableStream ? body.getReader() : null;
  const iterator = reader === null ? (body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]() : null;
  try {
    for (;;) {
      const { done, value } = reader !== null ? await reader.read() : await iterator!.next();
      if (done) break;
      if (fcgi.ended) {
        // The web server went away: stop producing.
        await (reader !== null ? reader.cancel() : iterator!.return?.());
        return;
      }
      const chunk = typeof value === 'string' ? Buffer.from(value) : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
      if (!fcgi.write(chunk)) await sink.waitForDrain();
    }
  } catch (error) {
    // Headers are gone: cut the reply short so the web server sees the failure.
    fcgi.fail();
    throw error;
  }
  finish(fcgi, access, status);
}
