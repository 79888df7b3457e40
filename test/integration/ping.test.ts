// `runfcgi ping`: the health probe's exit codes and lines, against a real runfcgi over FastCGI and SCGI.

import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runSync, start, tempDir, waitForListen, type Started } from '../helpers/run.js';

describe('runfcgi ping', () => {
  let server: Started | undefined;
  let dir: string;

  afterEach(async () => {
    await server?.stop();
    server = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function serve(...args: string[]): Promise<string> {
    dir = tempDir();
    const socket = path.join(dir, 'app.sock');
    // An app that answers 404 to everything: a 200 can only come from runfcgi's own ping= path.
    fs.writeFileSync(path.join(dir, 'app.mjs'), 'export default (req, res) => { res.statusCode = 404; res.end("not here\\n"); };\n');
    server = start([`app=${path.join(dir, 'app.mjs')}`, `socket=${socket}`, 'minspare=1', 'maxspare=1', ...args]);
    await waitForListen(socket);
    return socket;
  }

  it('exits 0 and prints the ping answer when the ping= path answers 200', async () => {
    const socket = await serve('ping=/healthz', 'pingresponse=ok');
    expect(runSync(['ping', `socket=${socket}`, 'path=/healthz'])).toEqual({ code: 0, stdout: 'ok\n', stderr: '' });
  });

  it('speaks SCGI with protocol=scgi', async () => {
    const socket = await serve('protocol=scgi', 'ping=/ping');
    expect(runSync(['ping', `socket=${socket}`, 'protocol=scgi'])).toEqual({ code: 0, stdout: 'pong\n', stderr: '' });
  });

  it('exits 1 with one line when the path answers anything but 200, and hints at ping= on a 404', async () => {
    const socket = await serve();
    expect(runSync(['ping', `socket=${socket}`])).toEqual({ code: 1, stdout: '', stderr: `runfcgi: ping ${socket}: GET /ping answered 404 (is runfcgi started with ping=/ping?)\n` });
  });

  it('exits 1 with one line when nothing listens, and 2 for words it does not know', () => {
    dir = tempDir();
    const socket = path.join(dir, 'none.sock');
    expect(runSync(['ping', `socket=${socket}`])).toEqual({ code: 1, stdout: '', stderr: `runfcgi: ping ${socket}: cannot connect (ENOENT)\n` });
    const bad = runSync(['ping', 'sokcet=/x']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^runfcgi: ping: unexpected 'sokcet=\/x': runfcgi ping socket=PATH\|host=ADDRESS port=PORT/);
  });
});
