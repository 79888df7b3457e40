// A request whose head is larger than maxheadersize= is answered 431 before the app sees it, as Node's server does.

import { requestHeadBytes, requestUrl } from '../protocol/cgi.js';
import type { Logger } from '../shared/log.js';
import type { GatewayRequest, RequestHandler, RequestSink } from './types.js';

/**
 * Node's server answers a head over its maxHeaderSize (16 KB) with this and
 * no body (HPE_HEADER_OVERFLOW); the web server relays it to the browser.
 */
const TOO_LARGE = 'Status: 431 Request Header Fields Too Large\r\n\r\n';

const ignoreInput: RequestSink = { stdin: () => {}, abort: () => {}, drain: () => {} };

/**
 * Wraps `app` so that a request whose URL, header names and values add up to
 * `limit` bytes or more (Node counts the same parts) gets a 431 and a log line
 * naming the option; the app never sees it.
 */
export function withHeadLimit(app: RequestHandler, limit: number, log: Logger): RequestHandler {
  return (fcgi: GatewayRequest): void => {
    // The head is part of the params (its URL too): params smaller than the limit need no count.
    if (fcgi.paramBytes < limit) return app(fcgi);
    const url = requestUrl(fcgi.params);
    const bytes = requestHeadBytes(fcgi.params, url);
    if (bytes < limit) return app(fcgi);
    log.warn({ method: fcgi.params.REQUEST_METHOD || 'GET', url: url.slice(0, 200), bytes }, `request head of ${bytes} bytes refused with 431: the limit is maxheadersize=${limit}`);
    fcgi.attach(ignoreInput);
    fcgi.write(TOO_LARGE);
    fcgi.end(0);
  };
}
