// A fetch request's URL and method as `new Request()` would serialise them, without parsing the usual case.

import { requestOrigin } from '../protocol/cgi.js';

/** Path characters the URL parser keeps as they are (no dot segments: checked apart). */
const PLAIN_PATH = /^\/[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*$/;
/** The same for the query, where `'` is percent-encoded in http(s) URLs. */
const PLAIN_QUERY = /^[A-Za-z0-9\-._~!$&()*+,;=:@/?%]*$/;
/** `/.`, `/..`, `/%2e`: segments the parser removes. */
const DOT_SEGMENT = /\/(?:\.|%2e)/i;
/** A host as the parser gives it back: lower case, no IDNA, the last label no number, or a plain IPv4. */
const PLAIN_HOST = /^((?:[a-z0-9-]+\.)*[a-z][a-z0-9-]*|(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d))(?::([1-9]\d{0,4}))?$/;

/**
 * The absolute URL of the request, as `new Request(url).url` gives it.
 * Most URLs come out of the parser unchanged; only the others are parsed.
 * Throws a TypeError for a URL no Request could have (a bad Host header).
 */
export function requestHref(params: Record<string, string>, url: string): string {
  const origin = requestOrigin(params);
  const href = origin + url;
  return isSerialised(origin, url) ? href : new URL(href).href;
}

function isSerialised(origin: string, url: string): boolean {
  const host = PLAIN_HOST.exec(origin.slice(origin.indexOf('/') + 2));
  if (host === null || host[1]!.includes('xn--') || host[1]!.endsWith('-')) return false;
  const port = host[2];
  if (port !== undefined) {
    const n = Number(port);
    if (n > 65535 || (n === 80 && origin.startsWith('http:')) || (n === 443 && origin.startsWith('https:'))) return false;
  }
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  if (!PLAIN_PATH.test(path) || DOT_SEGMENT.test(path)) return false;
  return q === -1 || PLAIN_QUERY.test(url.slice(q + 1));
}

/** Methods a Request upper-cases (Fetch standard, "normalize a method"). */
const NORMALISED = new Set(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT']);
/** Methods a Request refuses. */
const FORBIDDEN = new Set(['CONNECT', 'TRACE', 'TRACK']);
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** The method as a Request has it, or null where `new Request()` would throw. */
export function requestMethod(method: string): string | null {
  if (NORMALISED.has(method)) return method;
  const upper = method.toUpperCase();
  if (FORBIDDEN.has(upper) || !TOKEN.test(method)) return null;
  return NORMALISED.has(upper) ? upper : method;
}
