// The built-in app served without app=: shows what the web server sent, so a new setup is visibly working.

import type { IncomingMessage, ServerResponse } from 'node:http';

const escape = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function rows(entries: [string, string][]): string {
  return entries.map(([k, v]) => `<tr><th>${escape(k)}</th><td>${escape(v)}</td></tr>`).join('\n');
}

export function welcome(req: IncomingMessage, res: ServerResponse): void {
  const params = req.fcgi?.params ?? {};
  const request: [string, string][] = [
    ['method', req.method ?? ''],
    ['URL (req.url)', req.url ?? ''],
    ['REQUEST_URI', params.REQUEST_URI ?? ''],
    ['SCRIPT_NAME', params.SCRIPT_NAME ?? ''],
    ['PATH_INFO', params.PATH_INFO ?? ''],
    ['QUERY_STRING', params.QUERY_STRING ?? ''],
    ['remote address', `${req.socket.remoteAddress ?? ''}`],
    ['FastCGI role', req.fcgi?.role ?? ''],
  ];
  const headers = Object.entries(req.headers).map(([k, v]): [string, string] => [k, String(v)]);
  const body = `<!doctype html>
<html><head><meta charset="utf-8"><title>runfcgi works</title>
<style>body{font-family:sans-serif;margin:2em}th{text-align:left;padding-right:1em}td{font-family:monospace}</style>
</head><body>
<h1>It works: runfcgi is serving this page</h1>
<p>This is the built-in welcome app. Give your own with <code>runfcgi app=./app.js</code>
(a <code>(req, res)</code> listener, a <code>fetch</code> handler or an <code>http.Server</code>).</p>
<h2>Request</h2><table>${rows(request)}</table>
<h2>Headers</h2><table>${rows(headers)}</table>
<h2>All FastCGI params</h2><table>${rows(Object.entries(params).sort(([a], [b]) => a.localeCompare(b)))}</table>
</body></html>
`;
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(req.method === 'HEAD' ? undefined : body);
}
