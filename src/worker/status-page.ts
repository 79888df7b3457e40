// The status page and ping (PHP-FPM's pm.status_path and ping.path), answered by runfcgi, never by the app.

import type { RequestHandler } from '../adapter/types.js';
import { requestUrl } from '../protocol/cgi.js';
import type { GatewayRequest, RequestSink } from '../adapter/types.js';
import type { PoolStatus } from '../shared/pool-status.js';

const date = (epochSeconds: number): string => new Date(epochSeconds * 1000).toISOString();

export function renderText(s: PoolStatus): string {
  const rows: [string, string | number][] = [
    ['pool', s.pool], ['method', s.method], ['start time', date(s.startTime)], ['start since', s.startSince],
    ['accepted requests', s.acceptedRequests], ['listen queue', s.listenQueue ?? '-'],
    ['idle workers', s.idleWorkers], ['active workers', s.activeWorkers], ['total workers', s.totalWorkers],
    ['max active workers', s.maxActiveWorkers], ['max children reached', s.maxChildrenReached],
    ['restarts', s.restarts], ['slow requests', s.slowRequests], ['timed out requests', s.timedOutRequests],
    ['client left requests', s.abortedRequests],
  ];
  let out = rows.map(([k, v]) => `${`${k}:`.padEnd(22)}${v}\n`).join('');
  for (const w of s.workers ?? []) {
    out += '\n************************\n';
    const wrows: [string, string | number][] = [
      ['worker', w.id], ['pid', w.pid], ['thread', w.threadId ?? '-'], ['state', w.state], ['start time', date(w.startTime)],
      ['requests', w.requests], ['active requests', w.activeRequests], ['event loop lag ms', w.eventLoopLagMs], ['memory bytes', w.memoryBytes],
    ];
    out += wrows.map(([k, v]) => `${`${k}:`.padEnd(22)}${v}\n`).join('');
  }
  return out;
}

export function renderOpenMetrics(s: PoolStatus): string {
  const lines: string[] = [];
  const metric = (name: string, type: string, help: string, samples: [string, number][]): void => {
    lines.push(`# TYPE runfcgi_${name} ${type}`, `# HELP runfcgi_${name} ${help}`);
    for (const [labels, value] of samples) lines.push(`runfcgi_${name}${type === 'counter' ? '_total' : ''}${labels} ${value}`);
  };
  metric('start_time_seconds', 'gauge', 'When the master started.', [['', s.startTime]]);
  metric('accepted_requests', 'counter', 'Requests accepted by all workers.', [['', s.acceptedRequests]]);
  if (s.listenQueue !== null) metric('listen_queue', 'gauge', 'Connections waiting to be accepted.', [['', s.listenQueue]]);
  metric('workers', 'gauge', 'Workers by state.', [['{state="idle"}', s.idleWorkers], ['{state="active"}', s.activeWorkers]]);
  metric('max_active_workers', 'gauge', 'Most workers active at once.', [['', s.maxActiveWorkers]]);
  metric('max_children_reached', 'counter', 'Times the pool wanted to grow past maxchildren.', [['', s.maxChildrenReached]]);
  metric('restarts', 'counter', 'Workers replaced after dying, timing out, or reaching maxrequests or maxmemory.', [['', s.restarts]]);
  metric('slow_requests', 'counter', 'Requests that ran past slowlog.', [['', s.slowRequests]]);
  metric('timed_out_requests', 'counter', 'Requests ended at timeout.', [['', s.timedOutRequests]]);
  metric('aborted_requests', 'counter', 'Requests whose client left before they were answered.', [['', s.abortedRequests]]);
  if (s.workers !== undefined) {
    metric('worker_requests', 'counter', 'Requests served by each worker.', s.workers.map((w) => [`{worker="${w.id}"}`, w.requests]));
    metric('worker_active_requests', 'gauge', 'Requests in progress in each worker.', s.workers.map((w) => [`{worker="${w.id}"}`, w.activeRequests]));
  }
  lines.push('# EOF');
  return lines.join('\n') + '\n';
}

const ignoreInput: RequestSink = { stdin: () => {}, abort: () => {}, drain: () => {} };

function answer(fcgi: GatewayRequest, status: string, type: string, body: string): void {
  if (fcgi.ended) return;
  fcgi.write(`Status: ${status}\r\nContent-Type: ${type}\r\nCache-Control: no-cache, no-store, must-revalidate\r\n\r\n${fcgi.params.REQUEST_METHOD === 'HEAD' ? '' : body}`);
  fcgi.end(0);
}

export interface ManagementPaths {
  status: string | undefined;
  ping: string | undefined;
  pingresponse: string;
}

/** Answers the status and ping paths itself; everything else goes to the app. */
export function withManagement(app: RequestHandler, paths: ManagementPaths, askPoolSnapshot: (full: boolean) => Promise<PoolStatus>): RequestHandler {
  if (paths.status === undefined && paths.ping === undefined) return app;
  return (fcgi: GatewayRequest): void => {
    const url = requestUrl(fcgi.params);
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    if (path !== paths.status && path !== paths.ping) return app(fcgi);
    fcgi.attach(ignoreInput);
    if (path === paths.ping) return answer(fcgi, '200 OK', 'text/plain; charset=utf-8', `${paths.pingresponse}\n`);
    const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
    askPoolSnapshot(query.has('full')).then(
      (s) => {
        if (query.has('json')) answer(fcgi, '200 OK', 'application/json', `${JSON.stringify(s)}\n`);
        else if (query.has('openmetrics')) answer(fcgi, '200 OK', 'application/openmetrics-text; version=1.0.0; charset=utf-8', renderOpenMetrics(s));
        else answer(fcgi, '200 OK', 'text/plain; charset=utf-8', renderText(s));
      },
      () => answer(fcgi, '503 Service Unavailable', 'text/plain; charset=utf-8', 'status not available\n'),
    );
  };
}
