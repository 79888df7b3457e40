// The app's own cleanup when its worker leaves: SIGTERM in a worker process once its requests are
// done (stop, recycling), an exported close() in a worker thread, and a time limit (graceperiod).

import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/load.js';
import { DIFFERENTIAL, type AppEvent } from '../helpers/differential.js';
import { need, start, tempDir, waitForListen, type Started } from '../helpers/run.js';
import { cgiFcgi } from '../helpers/cgi-fcgi.js';

let dir: string;
let server: Started | undefined;

function events(): string[] {
  const file = path.join(dir, 'events');
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as AppEvent).event);
}

async function run(app: string, args: string[], detached = false): Promise<string> {
  dir = tempDir();
  const sock = path.join(dir, 'app.sock');
  server = start([`app=${path.join(DIFFERENTIAL, app)}`, `socket=${sock}`, `env=EVENTS_FILE=${path.join(dir, 'events')}`, ...args], { detached });
  await waitForListen(sock);
  return sock;
}

const get = (sock: string, uri = '/'): ReturnType<typeof cgiFcgi> => cgiFcgi(sock, { REQUEST_URI: uri, HTTP_HOST: 'localhost' });

afterEach(async () => {
  await server?.stop('SIGKILL');
  server = undefined;
  fs.rmSync(dir, { recursive: true, force: true });
});

describe.runIf(need('cgi-fcgi'))('shutdown hooks', () => {
  it('sends a worker process SIGTERM only once its requests are done, whoever else got Ctrl+C', async () => {
    const sock = await run('hook.mjs', ['maxchildren=1', 'minspare=1', 'maxspare=1'], true);
    const waiting = get(sock, '/wait');
    await waitFor(() => events().includes('waiting'), 20_000, 'the request to begin');
    // Ctrl+C in a terminal: SIGINT to the whole process group, workers included.
    process.kill(-server!.child.pid!, 'SIGINT');
    expect((await waiting).body.toString()).toBe('waited\n');
    expect(await server!.stop()).toBe(0);
    // No 'sigint': the app hears one signal, SIGTERM, after its request.
    expect(events()).toEqual(['waiting', 'answered', 'sigterm', 'cleaned up']);
  });

  it('runs the cleanup when maxrequests recycles the worker, before any stop', async () => {
    const sock = await run('hook.mjs', ['maxrequests=1', 'maxchildren=2', 'minspare=1', 'maxspare=1']);
    expect((await get(sock)).body.toString()).toBe('hello world\n');
    await waitFor(() => events().includes('cleaned up'), 20_000, 'the recycled worker to clean up');
    expect(events()).toEqual(['sigterm', 'cleaned up']);
    expect(server!.output()).not.toMatch(/worker died/);
  });

  it('calls an exported close() in a worker thread, which hears no signals', async () => {
    const sock = await run('close.mjs', ['method=threaded', 'maxchildren=1', 'minspare=1', 'maxspare=1']);
    expect((await get(sock)).body.toString()).toBe('hello world\n');
    expect(await server!.stop()).toBe(0);
    expect(events()).toEqual(['close()', 'cleaned up']);
  });

  it('ends the worker anyway after graceperiod, and says so, when the cleanup never finishes', async () => {
    const sock = await run('stuck.mjs', ['graceperiod=1', 'maxchildren=1', 'minspare=1', 'maxspare=1']);
    expect((await get(sock)).body.toString()).toBe('hello world\n');
    expect(await server!.stop()).toBe(0);
    expect(events()).toEqual(['sigterm']);
    expect(server!.output()).toMatch(/the app's SIGTERM listeners did not finish within graceperiod: ending the worker anyway/);
  });
});
