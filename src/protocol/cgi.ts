// CGI/1.1 params -> the parts of an HTTP request (method, URL, headers, peer), shared by the adapters.

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

/** Header names seen so far: the same few dozen come with every request. */
const headerNames = new Map<string, string>();
const MAX_CACHED_NAMES = 1000;

/** 'HTTP_ACCEPT_LANGUAGE' -> 'accept-language'. */
function headerName(param: string): string {
  let name = headerNames.get(param);
  if (name === undefined) {
    name = param.slice(5).toLowerCase().replace(/_/g, '-');
    // Bounded: a peer sending ever new names must not grow the cache.
    if (headerNames.size < MAX_CACHED_NAMES) headerNames.set(param, name);
  }
  return name;
}

/**
 * The request has no body: nothing will follow the params but an empty
 * STDIN. True for CONTENT_LENGTH 0, and for GET and HEAD without one.
 */
export function hasNoBody(params: Record<string, string>): boolean {
  const length = params.CONTENT_LENGTH;
  if (length === undefined || length === '') {
    const method = params.REQUEST_METHOD;
    return method === undefined || method === 'GET' || method === 'HEAD';
  }
  return length === '0';
}

/** The request's headers from its params, as Node's `rawHeaders`: name, value, name, value... */
export function cgiHeaders(params: Record<string, string>): string[] {
  const rawHeaders: string[] = [];
  for (const name in params) {
    let header: string;
    if (name.startsWith('HTTP_')) {
      header = headerName(name);
      // CONTENT_TYPE/CONTENT_LENGTH below are authoritative; some servers send both.
      if (header === 'content-length' || header === 'content-type') continue;
    } else if (name === 'CONTENT_TYPE') {
      header = 'content-type';
    } else if (name === 'CONTENT_LENGTH') {
      header = 'content-length';
    } else {
      continue;
    }
    const value = params[name]!;
    if (value === '' && !name.startsWith('HTTP_')) continue;
    rawHeaders.push(header, value);
  }
  return rawHeaders;
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
