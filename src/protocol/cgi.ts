// CGI/1.1 params -> the parts of an HTTP request (method, URL, headers, peer), shared by the adapters.

import { repeatedParams } from './params.js';

/** The HTTP request a web server described in its CGI params. */
export interface CgiRequest {
  method: string;
  /** The URL the browser asked for: path and query, as sent (not decoded). */
  url: string;
  /** Name, value, name, value... with lower-case names: as Node's `rawHeaders`. */
  rawHeaders: string[];
  httpVersion: string;
  httpVersionMajor: number;
  httpVersionMinor: number;
  remoteAddress: string | undefined;
  remotePort: number | undefined;
  /** The web server says the browser came over TLS (HTTPS=on). */
  https: boolean;
}

/**
 * The URL the browser asked for. Every server we serve sends REQUEST_URI
 * with the original URL, also after a rewrite to /mysite.fcgi/...; without
 * it (plain CGI clients), rebuild it from SCRIPT_NAME + PATH_INFO.
 */
export function requestUrl(params: Record<string, string>): string {
  const uri = params.REQUEST_URI;
  if (uri !== undefined && uri !== '') return uri;
  const path = (params.SCRIPT_NAME ?? '') + (params.PATH_INFO ?? '') || '/';
  const query = params.QUERY_STRING;
  return query ? `${path}?${query}` : path;
}

/**
 * Hop-by-hop headers of the browser's connection to the web server (RFC 9110
 * 7.6.1), which the web server has answered already: Node's own server behind
 * nginx's proxy_pass never sees them (nginx drops them, and answers Expect:
 * 100-continue itself), so neither does the app here. Proxy-Connection and the
 * names a Connection header lists do reach it there, so they do here too.
 * Transfer-Encoding is decided with CONTENT_LENGTH, below.
 */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'te', 'upgrade', 'expect', 'transfer-encoding']);

/**
 * Methods that Node's own HTTP client sends without a body (it frames no
 * other method without one): Caddy and HAProxy send CONTENT_LENGTH=0 on a
 * GET whose browser sent no length, which Node's server would not show.
 */
const BODILESS = new Set(['GET', 'HEAD', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT']);

/** Header names seen so far ('' for a param that shows as no header): the same few dozen come with every request. */
const headerNames = new Map<string, string>();
const MAX_CACHED_NAMES = 1000;

/**
 * 'HTTP_ACCEPT_LANGUAGE' -> 'accept-language'; '' for a hop-by-hop header and
 * for HTTP_CONTENT_TYPE/HTTP_CONTENT_LENGTH: CONTENT_TYPE and CONTENT_LENGTH
 * are authoritative (some servers send both).
 */
function headerName(param: string): string {
  let name = headerNames.get(param);
  if (name === undefined) {
    name = param.slice(5).toLowerCase().replace(/_/g, '-');
    if (HOP_BY_HOP.has(name) || name === 'content-type' || name === 'content-length') name = '';
    // Bounded: a peer sending ever new names must not grow the cache.
    if (headerNames.size < MAX_CACHED_NAMES) headerNames.set(param, name);
  }
  return name;
}

/** No CONTENT_LENGTH at all, or an empty one. */
const NO_LENGTH = -2;
/** A CONTENT_LENGTH that is negative or not a number (Caddy sends -1 for a chunked upload): read STDIN to its end. */
const UNKNOWN_LENGTH = -1;
const DECIMAL = /^\d+$/;

function declaredLength(value: string | undefined): number {
  if (value === undefined || value === '') return NO_LENGTH;
  if (value === '0') return 0;
  return DECIMAL.test(value) ? Number(value) : UNKNOWN_LENGTH;
}

/**
 * The request has no body: nothing will follow the params but an empty
 * STDIN. True for CONTENT_LENGTH 0, and for GET and HEAD without one. A
 * length that is not a number is no length: the body is STDIN to its end.
 */
export function hasNoBody(params: Record<string, string>): boolean {
  const length = declaredLength(params.CONTENT_LENGTH);
  if (length === NO_LENGTH) {
    const method = params.REQUEST_METHOD;
    return method === undefined || method === 'GET' || method === 'HEAD';
  }
  return length === 0;
}

/** The request's headers from its params, as Node's `rawHeaders`: name, value, name, value... */
export function cgiHeaders(params: Record<string, string>): string[] {
  const rawHeaders: string[] = [];
  collectHeaders(params, rawHeaders);
  return rawHeaders;
}

/**
 * The size of the request's head as Node's server counts it against its
 * maxHeaderSize: the URL, and each header's name and value.
 */
export function requestHeadBytes(params: Record<string, string>, url: string): number {
  return url.length + collectHeaders(params, null);
}

/**
 * Headers Node's server keeps one of (its IncomingMessage drops a second
 * line): sent twice, they are a config's override (nginx's `fastcgi_param
 * HTTP_HOST $http_host;` after an include that sets HTTP_HOST $host), and the
 * last one wins. Any other name sent twice is the browser's two lines
 * (HAProxy's two HTTP_COOKIE), all shown for Node and Headers to join.
 */
const SINGLE = new Set(['host', 'user-agent', 'referer', 'authorization', 'proxy-authorization', 'if-modified-since', 'if-unmodified-since', 'from', 'max-forwards']);

/** Pushes the earlier values of param `name` as `header` lines; returns their bytes. */
function earlierLines(repeats: readonly string[], name: string, header: string, raw: string[] | null): number {
  let bytes = 0;
  for (let i = 0; i < repeats.length; i += 2) {
    if (repeats[i] !== name) continue;
    bytes += header.length + repeats[i + 1]!.length;
    raw?.push(header, repeats[i + 1]!);
  }
  return bytes;
}

/** ", " followed by a cookie's name and "=": where Caddy joined two Cookie lines. */
const CADDY_COOKIE_JOIN = /, (?=[^\s=;,]+=)/g;

/**
 * Caddy (Go's CGI habit) joins a header sent twice with ", ", also Cookie,
 * whose cookies are separated by "; " (RFC 6265 5.4): a cookie parser would
 * take "a=1, b=2" for one cookie. Node's server, given the two lines, shows
 * "a=1; b=2". Only for Caddy: nginx, Apache, lighttpd and HAProxy send a
 * Cookie as the browser did.
 */
function cookieLines(params: Record<string, string>, value: string): string {
  return params.SERVER_SOFTWARE?.startsWith('Caddy/') ? value.replace(CADDY_COOKIE_JOIN, '; ') : value;
}

/**
 * Pushes the headers the app sees onto `raw` (when given) and returns their
 * bytes (names and values). As Node's server shows a request: a name sent
 * twice twice (Node's IncomingMessage and Headers join them by their rules:
 * `; ` for Cookie...), no hop-by-hop header, and never both Content-Length
 * and Transfer-Encoding (RFC 9112 6.3): the body is de-chunked already, so a
 * known length wins; an unknown one shows as the chunked upload it was.
 */
function collectHeaders(params: Record<string, string>, raw: string[] | null): number {
  let bytes = 0;
  const repeats = repeatedParams(params);
  for (const name in params) {
    if (!name.startsWith('HTTP_')) continue;
    const header = headerName(name);
    if (header === '') continue;
    // Lines sent before the last one of the same name come first (rare: only then a scan).
    if (repeats !== undefined && !SINGLE.has(header)) bytes += earlierLines(repeats, name, header, raw);
    let value = params[name]!;
    if (header === 'cookie' && value.includes(', ')) value = cookieLines(params, value);
    bytes += header.length + value.length;
    raw?.push(header, value);
  }
  const type = params.CONTENT_TYPE;
  if (type !== undefined && type !== '') {
    bytes += 12 + type.length;
    raw?.push('content-type', type);
  }
  const length = declaredLength(params.CONTENT_LENGTH);
  if (length > 0 || (length === 0 && !BODILESS.has(params.REQUEST_METHOD || 'GET'))) {
    bytes += 14 + params.CONTENT_LENGTH!.length;
    raw?.push('content-length', params.CONTENT_LENGTH!);
  } else if (length === UNKNOWN_LENGTH || (length === NO_LENGTH && params.HTTP_TRANSFER_ENCODING)) {
    // What tells body parsers (type-is, Node's own) that a body comes without a length.
    const coding = params.HTTP_TRANSFER_ENCODING || 'chunked';
    bytes += 17 + coding.length;
    raw?.push('transfer-encoding', coding);
  }
  return bytes;
}

export function cgiRequest(params: Record<string, string>): CgiRequest {
  const rawHeaders = cgiHeaders(params);
  const protocol = params.SERVER_PROTOCOL;
  let major = 1;
  let minor = 1;
  let version = '1.1';
  if (protocol !== undefined && protocol !== 'HTTP/1.1') {
    const match = /^HTTP\/(\d+)(?:\.(\d+))?$/i.exec(protocol);
    if (match) {
      major = Number(match[1]);
      minor = Number(match[2] ?? 0);
      version = `${major}.${minor}`;
    }
  }
  const port = params.REMOTE_PORT ? Number(params.REMOTE_PORT) : undefined;
  return {
    method: params.REQUEST_METHOD || 'GET',
    url: requestUrl(params),
    rawHeaders,
    httpVersion: version,
    httpVersionMajor: major,
    httpVersionMinor: minor,
    remoteAddress: params.REMOTE_ADDR || undefined,
    remotePort: Number.isInteger(port) ? port : undefined,
    https: isHttps(params),
  };
}

/** nginx sends HTTPS=on, Apache HTTPS=on, lighttpd HTTPS=on; some send REQUEST_SCHEME only. */
export function isHttps(params: Record<string, string>): boolean {
  const https = params.HTTPS;
  if (https !== undefined && https !== '') return https.toLowerCase() === 'on' || https === '1';
  return params.REQUEST_SCHEME === 'https';
}

/** Origin for an absolute URL (fetch handlers need one): Host header, else SERVER_NAME:SERVER_PORT. */
export function requestOrigin(params: Record<string, string>): string {
  const scheme = isHttps(params) ? 'https' : 'http';
  let host = params.HTTP_HOST;
  if (!host) {
    const name = params.SERVER_NAME || 'localhost';
    const port = params.SERVER_PORT;
    const bracketed = name.includes(':') && !name.startsWith('[') ? `[${name}]` : name;
    const standard = (scheme === 'https' && port === '443') || (scheme === 'http' && port === '80');
    host = port && !standard ? `${bracketed}:${port}` : bracketed;
  }
  return `${scheme}://${host}`;
}

const DEFAULT_STATUS = 'Status: 200 OK\r\n';
const LOCATION = /\r\nlocation:/i;

/**
 * A CGI response head without its `Status: 200 OK` line: 200 OK is what a
 * head without one means (RFC 3875 6.3.3), and Caddy passes the line on to the
 * browser as a header. Kept where it still says something: with a Location
 * header (without a Status, nginx, Apache and lighttpd take that for a
 * redirect) and when no other header follows (a head needs one).
 */
export function withoutDefaultStatus(head: string): string {
  if (!head.startsWith(DEFAULT_STATUS) || head.startsWith('\r\n', DEFAULT_STATUS.length) || head.length === DEFAULT_STATUS.length) return head;
  // The Status line's own \r\n begins the search: every header line after it starts with one.
  if (LOCATION.test(head)) return head;
  return head.slice(DEFAULT_STATUS.length);
}
