// `runfcgi status` in a terminal: the pool's counters and a table of its workers.

import type { ControlReport } from '../master/control.js';

export function duration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, '0')}m`;
  return `${Math.floor(s / 86400)}d${String(Math.floor(s / 3600) % 24).padStart(2, '0')}h`;
}

export function megabytes(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MB`;
}

/** Columns padded to their widest cell; the last is not padded. */
function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]! + 2))).join('').trimEnd()).join('\n');
}

export function renderPoolTable(s: ControlReport, now = Date.now()): string {
  const workers = s.workers ?? [];
  const lines = [
    `runfcgi master ${s.pid} on ${s.pool}: ${s.method}, pm=${s.pm}, up ${duration(s.startSince)}, ${megabytes(s.masterMemoryBytes)}`,
    `requests ${s.acceptedRequests}   slow ${s.slowRequests}   timed out ${s.timedOutRequests}   listen queue ${s.listenQueue ?? '-'}   ` +
      `restarts ${s.restarts}   max active ${s.maxActiveWorkers}   max children reached ${s.maxChildrenReached}`,
    `workers ${s.totalWorkers} (idle ${s.idleWorkers}, active ${s.activeWorkers})`,
    '',
  ];
  if (workers.length === 0) {
    lines.push(s.asleep ? 'No worker runs: the pool sleeps until a connection comes (pm=ondemand).' : 'No worker runs.');
    return lines.join('\n') + '\n';
  }
  const threaded = workers.some((w) => w.threadId !== null);
  const rows = [['WORKER', threaded ? 'THREAD' : 'PID', 'STATE', 'REQUESTS', 'IN PROGRESS', 'MEMORY', 'LAG', 'UPTIME']];
  for (const w of workers) {
    rows.push([
      String(w.id),
      threaded ? String(w.threadId ?? '-') : String(w.pid),
      w.state,
      String(w.requests),
      String(w.activeRequests),
      w.memoryBytes > 0 ? megabytes(w.memoryBytes) : '-',
      `${w.eventLoopLagMs} ms`,
      duration(now / 1000 - w.startTime),
    ]);
  }
  lines.push(table(rows));
  return lines.join('\n') + '\n';
}
