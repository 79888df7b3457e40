import { describe, expect, it } from 'vitest';
import { prettyLine } from '../../../src/shared/log.js';
import { renderOpenMetrics, renderText } from '../../../src/worker/status-page.js';
import type { PoolStatus } from '../../../src/shared/pool-status.js';

const status: PoolStatus = {
  pool: 'unix:/run/app.sock', method: 'prefork', startTime: 1_700_000_000, startSince: 42, acceptedRequests: 1234,
  listenQueue: null, idleWorkers: 1, activeWorkers: 1, totalWorkers: 2, maxActiveWorkers: 2, maxChildrenReached: 0,
  restarts: 3, slowRequests: 4, timedOutRequests: 1, abortedRequests: 5,
  workers: [{ id: 1, pid: 10, threadId: null, state: 'ready', startTime: 1_700_000_000, requests: 600, activeRequests: 0, eventLoopLagMs: 1, memoryBytes: 60_000_000 }],
};

describe('status page', () => {
  it('renders text in aligned rows, with a block per worker', () => {
    const text = renderText(status);
    expect(text).toContain('accepted requests:    1234\n');
    expect(text).toContain('listen queue:         -\n');
    expect(text).toContain('client left requests: 5\n');
    expect(text).toContain('************************\nworker:               1\n');
  });

  it('renders OpenMetrics: typed families, counters with _total, and # EOF', () => {
    const text = renderOpenMetrics(status);
    expect(text).toContain('# TYPE runfcgi_accepted_requests counter\n');
    expect(text).toContain('runfcgi_accepted_requests_total 1234\n');
    expect(text).toContain('runfcgi_workers{state="active"} 1\n');
    expect(text).toContain('runfcgi_aborted_requests_total 5\n');
    expect(text).toContain('runfcgi_worker_requests_total{worker="1"} 600\n');
    expect(text).not.toContain('listen_queue');
    expect(text.endsWith('# EOF\n')).toBe(true);
  });
});

describe('log lines on a terminal', () => {
  it('reads as time, level, message and fields', () => {
    const line = prettyLine(JSON.stringify({ level: 40, time: Date.UTC(2026, 0, 1, 12, 0, 1), pid: 1, msg: 'worker died', worker: 2, code: 1 }));
    expect(line).toMatch(/^\d\d:\d\d:\d\d WARN  worker died worker=2 code=1\n$/);
  });

  it('passes a line that is not JSON through', () => {
    expect(prettyLine('plain text\n')).toBe('plain text\n');
  });
});
