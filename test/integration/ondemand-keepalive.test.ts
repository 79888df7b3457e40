// pm=ondemand going to sleep loses no POST: nginx's kept-alive connections stay open, held by the master, and carry the next requests.

import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { failures, keepLoading, waitFor, type LoadResult } from '../helpers/load.js';
import { FASTCGI_TO_APP, nginxInFront, startNginx, type Nginx } from '../helpers/nginx.js';
import { children } from '../helpers/processes.js';
import { FIXTURES, freePort, need, start, tempDir, waitForListen, type Started } from '../helpers/run.js';

const hasNginx = need('nginx');
const ECHO = path.join(FIXTURES, 'echo-body.mjs');
/** A body a little over one FastCGI record, so that nginx sends it in several. */
const BODY = 'x'.repeat(70_000);
const POST = { body: BODY, expect: `${BODY.length} ` };

const SLEEPS = 'no request for processidletimeout: stopping the workers until a connection comes';
const ASLEEP = 'no worker runs: the master watches the socket';
const PASSED = 'kept-alive connections held while the pool slept passed on to a worker';
const WOKEN = 'a request came on a kept-alive connection: starting a worker';
const DROPPED = 'the web server closed a kept-alive connection held while the pool slept';

function records(s: Started, msg: string): Record<string, unknown>[] {
  return s
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l.msg === msg);
}

/**
 * nginx's ends of its connections to 127.0.0.1:`port` that are open
 * (ESTABLISHED), by nginx's local port, from /proc/net/tcp. A connection
 * runfcgi closed is in CLOSE_WAIT on nginx's side until nginx notices.
 */
function upstreamPorts(port: number): Set<number> {
  const found = new Set<number>();
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  for (const line of fs.readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const [, local, remote, state] = line.trim().split(/\s+/);
    if (remote === `0100007F:${hex}` && state === '01') found.add(parseInt(local!.split(':')[1]!, 16));
  }
  return found;
}

async function posts(url: string, n: number, lanes: number): Promise<LoadResult> {
  const traffic = keepLoading(url, lanes, POST);
  await waitFor(() => traffic.result.ok + traffic.result.failed >= n, 120_000, `${n} POSTs`);
  return traffic.stop();
}

// TCP shows nginx's connections in /proc/net/tcp; a UNIX socket passes libuv pipe handles instead of TCP ones.
const CASES = [['tcp', 'prefork'], ['unix', 'prefork'], ['tcp', 'threaded']] as const;

describe.runIf(hasNginx).each(CASES)('pm=ondemand on a %s socket, %s: going to sleep keeps nginx kept-alive connections', (transport, method) => {
  let dir: string;
  let port: number;
  /** Where runfcgi listens: its options, and nginx's upstream server. */
  let address: string[];
  let target: string;
  let nginx: Nginx;
  let server: Started | undefined;

  beforeAll(async () => {
    dir = tempDir();
    port = await freePort();
    const sock = path.join(dir, 'app.sock');
    address = transport === 'tcp' ? ['host=127.0.0.1', `port=${port}`] : [`socket=${sock}`, 'umask=000'];
    target = transport === 'tcp' ? `127.0.0.1:${port}` : `unix:${sock}`;
    // keepalive_timeout: nginx keeps its idle upstream connections far longer than the pool's idle time.
    nginx = await nginxInFront(dir, target, { location: 'fastcgi_read_timeout 60s;' });
  });
  afterAll(async () => {
    await nginx?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  afterEach(async () => {
    await server?.stop('SIGINT');
    server = undefined;
  });

  const tcp = transport === 'tcp';

  async function startPool(): Promise<Started> {
    server = start([`app=${ECHO}`, ...address, `method=${method}`, 'pm=ondemand', 'processidletimeout=1', 'maxchildren=4', 'loglevel=debug']);
    await waitForListen(tcp ? port : target.slice('unix:'.length));
    return server;
  }

  it('POSTs fired the moment the pool goes to sleep, 12 rounds: none fails', async () => {
    const s = await startPool();
    const results: Promise<LoadResult>[] = [];
    // The moment the master logs that the workers stop, nginx gets POSTs on its kept-alive connections (once a round:
    // those POSTs wake the pool, which sleeps again after them).
    let armed = false;
    let fired = 0;
    const fire = (chunk: Buffer): void => {
      if (!armed || !chunk.toString().includes(SLEEPS)) return;
      armed = false;
      fired++;
      results.push(posts(nginx.url('/whole'), 4, 4));
    };
    s.child.stdout?.on('data', fire);
    s.child.stderr?.on('data', fire);
    const seen = new Set<number>();
    const ROUNDS = 12;
    for (let round = 1; round <= ROUNDS; round++) {
      armed = true;
      results.push(posts(nginx.url('/whole'), 8, 4));
      await results.at(-1);
      if (tcp) for (const p of upstreamPorts(port)) seen.add(p);
      await waitFor(() => fired >= round, 60_000, `the POSTs fired at sleep ${round}`);
      await Promise.all(results);
    }
    const all = (await Promise.all(results)).reduce((a, r) => ({ ok: a.ok + r.ok, failed: a.failed + r.failed, errors: [...a.errors, ...r.errors] }), { ok: 0, failed: 0, errors: [] as string[] });
    if (tcp) for (const p of upstreamPorts(port)) seen.add(p);
    const passed = records(s, PASSED).reduce((n, r) => n + Number(r.connections), 0);
    console.log(`ondemand sleep races, ${transport}: ${ROUNDS} rounds, ${all.ok + all.failed} POSTs (${ROUNDS * 4} fired at the sleep), ${all.failed} failed; ${tcp ? `${seen.size} upstream connection(s) seen at nginx; ` : ''}${passed} held connection(s) passed on at wakes`);
    expect(all.failed, failures(all)).toBe(0);
  }, 600_000);

  // TCP only: nginx's connections are counted in /proc/net/tcp.
  if (tcp) {
    it('the pool sleeps with the connections open; the POSTs after it go on those same connections', async () => {
      const s = await startPool();
      const before = await posts(nginx.url('/whole'), 40, 4);
      expect(before.failed, failures(before)).toBe(0);
      const open = upstreamPorts(port);
      expect(open.size).toBeGreaterThan(0);

      await waitFor(() => records(s, ASLEEP).length >= 1, 30_000, 'the pool asleep');
      await waitFor(() => children(s.child.pid!).length === 0, 30_000, 'every worker gone');
      // Held by the master: nginx's ends are still ESTABLISHED (closed, they would be in CLOSE_WAIT).
      expect(upstreamPorts(port)).toEqual(open);

      const after = await posts(nginx.url('/whole'), 40, 4);
      expect(after.failed, failures(after)).toBe(0);
      // No connection was closed and opened anew: nginx used the ones it had.
      const now = upstreamPorts(port);
      expect([...now].filter((p) => !open.has(p))).toEqual([]);
      expect(records(s, WOKEN).length).toBe(1);
      const passed = records(s, PASSED).reduce((n, r) => n + Number(r.connections), 0);
      expect(passed).toBe(open.size);
      console.log(`ondemand sleep: ${open.size} kept-alive connection(s) held while asleep, ${passed} passed on at the wake; ${before.ok} + ${after.ok} POSTs answered`);
    }, 240_000);

    it('a held connection nginx closes (its keepalive_timeout) is closed and forgotten, and wakes nothing', async () => {
      const d = path.join(dir, 'short');
      fs.mkdirSync(d);
      // nginx drops its idle upstream connections a few seconds after the pool sleeps (processidletimeout=1).
      const short = await startNginx(d, `location / { ${FASTCGI_TO_APP} }`, `upstream app { server ${target} max_fails=0; keepalive 16; keepalive_timeout 15s; }`);
      try {
        const s = await startPool();
        const before = await posts(short.url('/whole'), 20, 4);
        expect(before.failed, failures(before)).toBe(0);
        const open = upstreamPorts(port).size;
        await waitFor(() => records(s, ASLEEP).length >= 1, 30_000, 'the pool asleep');
        await waitFor(() => records(s, DROPPED).length === open, 60_000, `nginx closing the ${open} held connection(s)`);
        // Closed by nginx, the connections woke no worker.
        expect(records(s, WOKEN).length).toBe(0);
        expect(children(s.child.pid!)).toEqual([]);
        // The next request comes on a new connection: the socket's watch wakes the pool, as without held connections.
        const after = await posts(short.url('/whole'), 8, 4);
        expect(after.failed, failures(after)).toBe(0);
        expect(records(s, 'a connection came: starting a worker').length).toBe(1);
        expect(records(s, PASSED).length).toBe(0);
      } finally {
        await short.stop();
      }
    }, 240_000);
  }
});
