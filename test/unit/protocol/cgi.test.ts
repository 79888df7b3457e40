// CGI params -> the request's headers as Node's own server would show them (issues 25 and 29).

import { describe, expect, it } from 'vitest';
import { cgiHeaders, hasNoBody, requestHeadBytes, withoutDefaultStatus } from '../../../src/protocol/cgi.js';
import { decodeParams, encodeParams } from '../../../src/protocol/fcgi/codec.js';
import { repeatedParams } from '../../../src/protocol/params.js';
import { parseHeaders } from '../../../src/protocol/scgi/connection.js';

/** The params a web server sent as `pairs`, decoded as a worker decodes them. */
const decoded = (pairs: [string, string][]): Record<string, string> => decodeParams(encodeParams(pairs));

/** rawHeaders as [name, value] pairs, sorted: the order of distinct names is not what is tested. */
function headers(pairs: [string, string][]): [string, string][] {
  const raw = cgiHeaders(decoded(pairs));
  const out: [string, string][] = [];
  for (let i = 0; i < raw.length; i += 2) out.push([raw[i]!, raw[i + 1]!]);
  return out.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

describe('a name sent twice', () => {
  it('keeps both values: the last in the params object (a config\'s override wins, as in PHP-FPM), the earlier ones aside', () => {
    const params = decoded([['HTTP_COOKIE', 'a=1'], ['HTTP_HOST', 'x'], ['HTTP_COOKIE', 'b=2'], ['HTTP_COOKIE', 'c=3']]);
    expect(params.HTTP_COOKIE).toBe('c=3');
    expect(repeatedParams(params)).toEqual(['HTTP_COOKIE', 'a=1', 'HTTP_COOKIE', 'b=2']);
    // Still a plain object for for...in and Object.entries.
    expect(Object.entries(params)).toEqual([['HTTP_COOKIE', 'c=3'], ['HTTP_HOST', 'x']]);
  });

  it('a header Node keeps one of, sent twice, is a config\'s override: nginx\'s `fastcgi_param HTTP_HOST $http_host` after the include', () => {
    const params = decoded([['HTTP_HOST', '127.0.0.1'], ['SCRIPT_NAME', '/a'], ['HTTP_HOST', '127.0.0.1:8080'], ['SCRIPT_NAME', '/b']]);
    expect(cgiHeaders(params)).toEqual(['host', '127.0.0.1:8080']);
    expect(params.SCRIPT_NAME).toBe('/b');
  });

  it('shows every line of a repeated header in rawHeaders, in the order sent, for Node and Headers to join by their rules', () => {
    expect(cgiHeaders(decoded([['HTTP_COOKIE', 'a=1'], ['HTTP_X_A', '1'], ['HTTP_COOKIE', 'b=2']]))).toEqual(['cookie', 'a=1', 'cookie', 'b=2', 'x-a', '1']);
  });

  it('a request without repeats carries no extra property', () => {
    expect(repeatedParams(decoded([['HTTP_COOKIE', 'a=1']]))).toBeUndefined();
  });

  it('from Caddy, which joins two Cookie lines with ", ", shows them joined with "; " as Node would', () => {
    const caddy: [string, string][] = [['SERVER_SOFTWARE', 'Caddy/2.6.2'], ['HTTP_COOKIE', 'a=1, b=2, when=Mon, 01 Jan']];
    expect(cgiHeaders(decoded(caddy))).toEqual(['cookie', 'a=1; b=2; when=Mon, 01 Jan']);
    // Anyone else's Cookie is what the browser sent.
    expect(cgiHeaders(decoded([['SERVER_SOFTWARE', 'nginx/1.22.1'], ['HTTP_COOKIE', 'a=1, b=2']]))).toEqual(['cookie', 'a=1, b=2']);
  });

  it('is kept by the SCGI parser too', () => {
    const block = Buffer.from('CONTENT_LENGTH\x000\x00SCGI\x001\x00HTTP_COOKIE\x00a=1\x00HTTP_COOKIE\x00b=2\x00', 'latin1');
    const params = parseHeaders(block);
    expect(cgiHeaders(params).filter((_, i, raw) => raw[i - 1] === 'cookie' || raw[i] === 'cookie')).toEqual(['cookie', 'a=1', 'cookie', 'b=2']);
  });
});

describe('the body\'s length', () => {
  it.each([['-1'], ['abc'], ['12x'], [' 5']])('CONTENT_LENGTH=%j means "length unknown": no Content-Length, the chunked upload it was, STDIN read to its end', (length) => {
    const pairs: [string, string][] = [['REQUEST_METHOD', 'POST'], ['CONTENT_LENGTH', length], ['CONTENT_TYPE', 'text/plain']];
    expect(headers(pairs)).toEqual([['content-type', 'text/plain'], ['transfer-encoding', 'chunked']]);
    expect(hasNoBody(decoded(pairs))).toBe(false);
  });

  it.each([['GET'], ['HEAD'], ['DELETE'], ['OPTIONS']])('CONTENT_LENGTH=0 on %s (Caddy, HAProxy) shows no length, as Node shows a request without one', (method) => {
    const pairs: [string, string][] = [['REQUEST_METHOD', method], ['CONTENT_LENGTH', '0'], ['HTTP_HOST', 'x']];
    expect(headers(pairs)).toEqual([['host', 'x']]);
    expect(hasNoBody(decoded(pairs))).toBe(true);
  });

  it('CONTENT_LENGTH=0 on a POST stays: the client sent an empty body', () => {
    expect(headers([['REQUEST_METHOD', 'POST'], ['CONTENT_LENGTH', '0']])).toEqual([['content-length', '0']]);
  });

  it('never both Content-Length and Transfer-Encoding: nginx de-chunks an upload and sends its length, so the length stays', () => {
    const pairs: [string, string][] = [['REQUEST_METHOD', 'POST'], ['CONTENT_LENGTH', '5'], ['HTTP_TRANSFER_ENCODING', 'chunked']];
    expect(headers(pairs)).toEqual([['content-length', '5']]);
  });

  it('a Transfer-Encoding without any CONTENT_LENGTH stays: the body has no known length', () => {
    expect(headers([['REQUEST_METHOD', 'POST'], ['HTTP_TRANSFER_ENCODING', 'gzip, chunked']])).toEqual([['transfer-encoding', 'gzip, chunked']]);
  });
});

describe('hop-by-hop headers', () => {
  it('are not shown, as nginx\'s proxy_pass does not pass them to Node\'s server; Proxy-Connection and the names Connection lists are', () => {
    const pairs: [string, string][] = [
      ['HTTP_CONNECTION', 'keep-alive, X-Foo'], ['HTTP_KEEP_ALIVE', '300'], ['HTTP_TE', 'trailers'], ['HTTP_UPGRADE', 'websocket'],
      ['HTTP_EXPECT', '100-continue'], ['HTTP_PROXY_CONNECTION', 'keep-alive'], ['HTTP_X_FOO', 'hop'], ['HTTP_HOST', 'x'],
    ];
    expect(headers(pairs)).toEqual([['host', 'x'], ['proxy-connection', 'keep-alive'], ['x-foo', 'hop']]);
  });
});

describe('the head\'s size', () => {
  it('counts the URL and the names and values of the headers shown, as Node\'s parser counts them', () => {
    const params = decoded([['HTTP_HOST', 'x'], ['HTTP_COOKIE', 'a=1'], ['HTTP_COOKIE', 'b=2'], ['CONTENT_TYPE', 'text/plain'], ['SCRIPT_FILENAME', '/not/a/header']]);
    expect(cgiHeaders(params)).toEqual(['host', 'x', 'cookie', 'a=1', 'cookie', 'b=2', 'content-type', 'text/plain']);
    expect(requestHeadBytes(params, '/path')).toBe(5 + 4 + 1 + 6 + 3 + 6 + 3 + 12 + 10);
  });
});

describe('the Status line', () => {
  it.each([
    ['a plain 200 OK loses it', 'Status: 200 OK\r\ncontent-type: text/plain\r\n', 'content-type: text/plain\r\n'],
    ['another status keeps it', 'Status: 404 Not Found\r\ncontent-type: text/plain\r\n', 'Status: 404 Not Found\r\ncontent-type: text/plain\r\n'],
    ['a 200 with a reason of its own keeps it', 'Status: 200 Fine\r\nx: 1\r\n', 'Status: 200 Fine\r\nx: 1\r\n'],
    ['a 200 with Location keeps it (without, the web server would redirect)', 'Status: 200 OK\r\nx: 1\r\nLocation: /elsewhere\r\n', 'Status: 200 OK\r\nx: 1\r\nLocation: /elsewhere\r\n'],
    ['a 200 with no other header keeps it (a head needs one)', 'Status: 200 OK\r\n', 'Status: 200 OK\r\n'],
    ['a 200 with no other header keeps it (unterminated form)', 'Status: 200 OK', 'Status: 200 OK'],
  ])('%s', (_what, head, expected) => {
    expect(withoutDefaultStatus(head)).toBe(expected);
  });
});
