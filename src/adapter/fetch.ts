// Serves a web-standard `fetch(request)` handler (Hono, h3, React Router and friends).

import { requestUrl } from '../protocol/cgi.js';
import { FetchSink } from './fetch-body.js';
import { LazyRequest, letRequestTakeOurs } from './fetch-request.js';
import { sendResponse } from './fetch-response.js';
import { requestHref, requestMethod } from './fetch-url.js';
import { errorBody, type AdapterOptions, type FcgiInfo, type GatewayRequest, type RequestHandler } from './types.js';

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

/** The third argument of fetch(): small, its methods on the prototype (one per request). */
class Context implements FetchContext {
  readonly role: FcgiInfo['role'];
  readonly requestId: number;
  readonly params: Record<string, string>;
  readonly #fcgi: GatewayRequest;
  readonly #options: AdapterOptions;

  constructor(fcgi: GatewayRequest, options: AdapterOptions) {
    this.#fcgi = fcgi;
    this.#options = options;
    this.role = fcgi.role;
    this.requestId = fcgi.id;
    this.params = fcgi.params;
  }

  writeStderr(text: string | Buffer): void {
    this.#fcgi.writeStderr(text);
  }

  waitUntil(promise: Promise<unknown>): void {
    promise.catch((err: unknown) => this.#options.log.error({ err }, 'waitUntil promise rejected'));
  }

  passThroughOnException(): void {}
}

export function fetchHandler(app: FetchApp, options: AdapterOptions): RequestHandler {
  letRequestTakeOurs();
  return (fcgi: GatewayRequest): void => {
    const params = fcgi.params;
    const sink = new FetchSink(fcgi);
    fcgi.attach(sink);
    const path = requestUrl(params);
    const method = requestMethod(params.REQUEST_METHOD || 'GET');
    let url: string;
    try {
      url = requestHref(params, path);
    } catch {
      url = '';
    }
    // What no Request can be made of never reaches the app (Fetch refuses TRACE and bad URLs).
    if (method === null || url === '') {
      reject(fcgi, options, method === null ? '501 Not Implemented' : '400 Bad Request');
      return;
    }
    const hasBody = method !== 'GET' && method !== 'HEAD';
    const request = new LazyRequest(method, url, params, sink, hasBody) as unknown as Request;
    const env = environment(params, fcgi.role);
    let sent: Promise<void> | undefined;
    try {
      const response = app.fetch(request, env, new Context(fcgi, options));
      if (!(response instanceof Promise)) {
        sent = sendResponse(fcgi, sink, response, method === 'HEAD', options.access);
        if (sent === undefined) return;
      } else {
        sent = response.then((r) => sendResponse(fcgi, sink, r, method === 'HEAD', options.access));
      }
    } catch (error) {
      sent = Promise.reject(error as Error);
    }
    sent.catch((error: unknown) => fail(fcgi, options, error, method, path));
  };
}

/** The params plus FCGI_ROLE. A loop: spreading the params' (dictionary-mode) object costs ~5x more. */
function environment(params: Record<string, string>, role: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name in params) env[name] = params[name]!;
  env.FCGI_ROLE = role;
  return env;
}

function fail(fcgi: GatewayRequest, options: AdapterOptions, error: unknown, method: string, url: string): void {
  options.log.error({ err: error, method, url }, 'application error');
  if (fcgi.ended) return;
  if (fcgi.bytesOut > 0) {
    fcgi.fail();
    return;
  }
  const body = errorBody(error, options.debug);
  fcgi.write(`Status: 500 Internal Server Error\r\ncontent-type: text/plain; charset=utf-8\r\n\r\n${body}`);
  options.access?.(fcgi, 500);
  fcgi.end(0);
}

function reject(fcgi: GatewayRequest, options: AdapterOptions, status: string): void {
  fcgi.write(`Status: ${status}\r\ncontent-type: text/plain; charset=utf-8\r\n\r\n${status.slice(4)}\n`);
  options.access?.(fcgi, Number(status.slice(0, 3)));
  fcgi.end(0);
}
