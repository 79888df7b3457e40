// applog=json: the app's stdout and stderr lines as JSON log records with the worker's id, in runfcgi's one log stream.

import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/load.js';
import { runSync, start, tempDir, waitForListen, type Started } from '../helpers/run.js';

const APP = `import { execSync } from 'node:child_process';
console.log('loaded "quoted"');
export default (req, res) => {
  console.log('hello from', req.url);
  console.error('an error line\\nand a second');
  process.stdout.write('no newline at the end');
  process.stdout.write(' until now\\n');
  if (req.url === '/subprocess') execSync('echo from a subprocess', { stdio: 'inherit' });
  res.end('ok\\n');
};
`;

describe.each(['prefork', 'threaded'] as const)('applog with method=%s', (method) => {
  /** Starts runfcgi, sends one request and stops it; resolves with what it wrote on stdout and on stderr. */
  async function oneRequest(uri: string, ...args: string[]): Promise<{ stdout: string; stderr: string }> {
    const dir = tempDir();
    let server: Started | undefined;
    try {
      fs.writeFileSync(path.join(dir, 'app.mjs'), APP);
      const socket = path.join(dir, 'app.sock');
      server = start([`app=${path.join(dir, 'app.mjs')}`, `socket=${socket}`, `method=${method}`, 'minspare=1', 'maxspare=1', 'maxchildren=1', ...args]);
      let stdout = '';
      let stderr = '';
      server.child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
      server.child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      await waitForListen(socket);
      expect(runSync(['ping', `socket=${socket}`, `path=${uri}`]).code).toBe(0);
      expect(await server.stop()).toBe(0);
      return { stdout, stderr };
    } finally {
      await server?.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  it('json: every line of the app is a record on stderr with the worker id and stream, among runfcgi\'s own; stdout stays empty', async () => {
    const { stdout, stderr } = await oneRequest(method === 'prefork' ? '/subprocess' : '/x', 'applog=json', 'accesslog=-');
    // One stream that parses: every line is JSON.
    const records = stderr.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    const app = records.filter((r) => r.role === 'app').map(({ level, worker, stream, msg }) => ({ level, worker, stream, msg }));
    const expected = [
      { level: 30, worker: 1, stream: 'stdout', msg: 'loaded "quoted"' },
      { level: 30, worker: 1, stream: 'stdout', msg: `hello from ${method === 'prefork' ? '/subprocess' : '/x'}` },
      { level: 50, worker: 1, stream: 'stderr', msg: 'an error line' },
      { level: 50, worker: 1, stream: 'stderr', msg: 'and a second' },
      { level: 30, worker: 1, stream: 'stdout', msg: 'no newline at the end until now' },
      // A worker process's own children write into the same pipes; a thread's share the process's stdout.
      ...(method === 'prefork' ? [{ level: 30, worker: 1, stream: 'stdout', msg: 'from a subprocess' }] : []),
    ];
    // The two streams are read apart: the order holds within each stream.
    for (const stream of ['stdout', 'stderr']) expect(app.filter((r) => r.stream === stream)).toEqual(expected.filter((r) => r.stream === stream));
    expect(records.some((r) => r.role === 'master' && r.msg === 'runfcgi is listening')).toBe(true);
    // runfcgi's own lines from the worker (the access log here) are not wrapped as the app's.
    expect(records.some((r) => r.msg === 'request' && r.worker === 1 && r.role === undefined)).toBe(true);
    expect(stdout).toBe('');
  });

  it('raw (the default): the app writes to stdout and stderr as it wrote', async () => {
    const { stdout, stderr } = await oneRequest('/x');
    expect(stdout).toContain('loaded "quoted"\nhello from /x\nno newline at the end until now\n');
    expect(stderr).toContain('an error line\nand a second\n');
  });
});

describe('applog', () => {
  it('rejects a value it does not know, with what is accepted', () => {
    const r = runSync(['applog=pretty', 'socket=/tmp/never.sock', 'daemonize=false']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^runfcgi: applog=pretty: .*raw.*json/);
  });

  it('json: a worker that exits in the middle of a line still has that line logged as a record', async () => {
    // The last line without its newline, as when an app dies while writing.
    const dir = tempDir();
    try {
      fs.writeFileSync(path.join(dir, 'app.mjs'), "process.stdout.write('half a line'); process.exit(1);\n");
      const socket = path.join(dir, 'app.sock');
      const server = start([`app=${path.join(dir, 'app.mjs')}`, `socket=${socket}`, 'applog=json']);
      await waitFor(() => server.output().includes('"msg":"half a line"'), 60_000, 'the half line as a record');
      await server.stop('SIGQUIT');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
