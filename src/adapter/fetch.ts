// Serves a web-standard `fetch(request)` handler (Hono and friends).

import { STATUS_CODES } from 'node:http';
import { cgiRequest, requestOrigin } from '../cgi.js';
import type { GatewayRequest, RequestSink } from './types.js';
import { errorBody, type AdapterOptions, type FcgiInfo, type RequestHandler } from './types.js';

export interface FetchApp {
  /**
   * `env` is the CGI environment the web server sent (plus FCGI_ROLE, as
   * PHP has it); `ctx` carries the FastCGI side and a `waitUntil` for work
   * that may outlive the response.
   */
  fetch(request: Request, env: Record<string, string>, ctx: FetchContext): Response | Promise<Response>;
}

export interface FetchContext extends FcgiInfo {
  waitUntil(promise: Promise<unknown>): void;
  passThroughOnException(): void;
}

/** Request body chunks queued before the connection is paused. */
const BODY_HIGH_WATER_MARK = 65536;

/** Input, abort and drain for one request, as web streams and promises. */
class FetchSink implements RequestSink {
  readonly abortController = new AbortController();
  body: ReadableStream<Uint8Array> | null = null;
  private controller: ReadableStreamDefaultController<Uint8Array> | null = null;
  private drained: (() => void) | null = null;

  constructor(private readonly fcgi: GatewayRequest, withBody: boolean) {
    if (!withBody) return;
    this.body = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.controller = controller;
        },
        pull: () => fcgi.resume(),
        cancel: () => fcgi.resume(),
      },
      { highWaterMark: BODY_HIGH_WATER_MARK, size: (chunk) => chunk.byteLength },
    );
  }

  stdin(chunk: Buffer | null): void {
    const controller = this.controller;
    if (controller === null) return;
    if (chunk === null) {
      controller.close();
      this.controller = null;
      return;
    }
    controller.enqueue(chunk);
    if ((controller.desiredSize ?? 0) <= 0) this.fcgi.pause();
  }

  abort(reason: Error): void {
    this.controller?.error(reason);
    this.controller = null;
    this.abortController.abort(reason);
    this.drain();
  }

  drain(): void {
    const resolve = this.drained;
    this.drained = null;
    resolve?.();
  }

  waitForDrain(): Promise<void> {
    return new Promise((resolve) => {
      this.drained = resolve;
    });
  }
}

export function fetchHandler(app: FetchApp, options: AdapterOptions): RequestHandler {
  const { log, debug } = options;
  return (fcgi: GatewayRequest): void => {
    const params = fcgi.params;
    const cgi = cgiRequest(params);
    const hasBody = cgi.method !== 'GET' && cgi.method !== 'HEAD';
    const sink = new FetchSink(fcgi, hasBody);
    fcgi.attach(sink);
    const request = new Request(requestOrigin(params) + cgi.url, {
      method: cgi.method,
      headers: cgi.rawHeaders.length === 0 ? undefined : pairs(cgi.rawHeaders),
      body: sink.body,
      signal: sink.abortController.signal,
      // @ts-expect-error Node's fetch needs `duplex` for a streamed body; lib.dom does not know it yet.
      duplex: 'half',
    });
    const env = { ...params, FCGI_ROLE: fcgi.role };
    const ctx: FetchContext = {
      role: fcgi.role,
      requestId: fcgi.id,
      params,
      writeStderr: (text) => void fcgi.writeStderr(text),
      waitUntil: (promise) => void promise.catch((err: unknown) => log.error({ err }, 'waitUntil promise rejected')),
      passThroughOnException: () => {},
    };
    new Promise<Response>((resolve) => resolve(app.fetch(request, env, ctx)))
      .then((response) => sendResponse(fcgi, sink, response, cgi.method === 'HEAD', options.access))
      .catch((error: unknown) => {
        log.error({ err: error, method: cgi.method, url: cgi.url }, 'application error');
        if (fcgi.ended) return;
        const body = errorBody(error, debug);
        fcgi.write(`Status: 500 Internal Server Error\r\ncontent-type: text/plain; charset=utf-8\r\n\r\n${body}`);
        options.access?.(fcgi, 500);
        fcgi.end(0);
      });
  };
}

function pairs(flat: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
  return out;
}

async function sendResponse(
  fcgi: GatewayRequest,
  sink: FetchSink,
  response: Response,
  head: boolean,
  access: AdapterOptions['access'],
): Promise<void> {
  if (!(response instanceof Response)) {
    throw new TypeError(`fetch handler returned ${typeof response}, not a Response`);
  }
  let text = `Status: ${response.status} ${response.statusText || STATUS_CODES[response.status] || ''}\r\n`;
  for (const [name, value] of response.headers) {
    if (name !== 'set-cookie') text += `${name}: ${value}\r\n`;
  }
  for (const cookie of response.headers.getSetCookie()) text += `set-cookie: ${cookie}\r\n`;
  fcgi.write(text + '\r\n', 'latin1');
  const body = response.body;
  if (body === null || head) {
    await body?.cancel();
    access?.(fcgi, response.status);
    fcgi.end(0);
    return;
  }
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (fcgi.ended) {
        await reader.cancel();
        return;
      }
      const chunk = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
      if (!fcgi.write(chunk)) await sink.waitForDrain();
    }
  } catch (error) {
    // Headers are gone: cut the reply short so the web server sees the failure.
    fcgi.fail();
    throw error;
  }
  access?.(fcgi, response.status);
  fcgi.end(0);
}
