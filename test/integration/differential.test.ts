// An app cannot tell it is not on Node's own server: each app runs under http.createServer behind
// nginx's proxy_pass and under runfcgi behind fastcgi_pass, and both must answer and report alike.

import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/load.js';
import { appHeaders, rawRequest, startPair, type Pair, type Side } from '../helpers/differential.js';
import { need, tempDir } from '../helpers/run.js';

interface Ask {
  method?: string;
  path: string;
  body?: string;
}

async function answer(side: Side, ask: Ask): Promise<{ status: number; headers: [string, string][]; body: string }> {
  const res = await fetch(side.url(ask.path), { method: ask.method ?? 'GET', body: ask.body, redirect: 'manual' });
  return { status: res.status, headers: appHeaders(res.headers), body: await res.text() };
}

/** The head and body of a raw HTTP/1.0 exchange, without the headers the web server sets. */
function http10(text: string): { status: string; headers: string[]; body: string } {
  const [head = '', body = ''] = text.split('\r\n\r\n');
  const [status = '', ...lines] = head.split('\r\n');
  const headers = lines.filter((l) => !/^(date|server|connection|keep-alive|transfer-encoding):/i.test(l)).map((l) => l.toLowerCase()).sort();
  return { status, headers, body };
}

/** The events of one request to /slow, without the order-free details. */
function leaving(events: { event: string }[]): { event: string }[] {
  return events.filter((e) => e.event !== '404');
}

/**
 * A client that asks for /slow (5 s) and leaves once the app has started on it. Resolves
 * with what the app saw, once it has seen the response close (and tried its late write).
 */
async function clientLeaves(side: Side, settled: (events: { event: string }[]) => boolean): Promise<{ event: string }[]> {
  const before = side.events().length;
  const { socket } = rawRequest(side.port, 'GET /slow HTTP/1.1\r\nHost: localhost\r\n\r\n');
  const mine = (): { event: string }[] => side.events().slice(before);
  await waitFor(() => mine().some((e) => e.event === 'start'), 20_000, `${side.name}: the app starts on /slow`);
  socket.destroy();
  await waitFor(() => settled(mine()), 20_000, `${side.name}: the app sees the client leave`);
  return mine();
}

const APPS: { app: string; args?: string[]; asks: Ask[] }[] = [
  {
    app: 'plain.mjs',
    // The status page (answered by runfcgi) counts the clients that left; debug logs each.
    args: ['status=/runfcgi-status', 'loglevel=debug'],
    asks: [
      { path: '/hello' }, { path: '/buffer' }, { path: '/empty' }, { path: '/writehead' }, { path: '/stream' },
      { path: '/json?x=1' }, { path: '/nocontent' }, { path: '/notmodified' }, { path: '/cookies' }, { path: '/redirect' },
      { path: '/missing' }, { method: 'HEAD', path: '/hello' }, { method: 'HEAD', path: '/stream' }, { method: 'HEAD', path: '/empty' },
      { method: 'POST', path: '/echo', body: 'a body of some length\n' }, { method: 'POST', path: '/echo', body: '' },
    ],
  },
  {
    app: 'express.mjs',
    asks: [
      { path: '/hello' }, { path: '/json?x=1' }, { path: '/stream' }, { path: '/nocontent' }, { path: '/redirect' },
      { path: '/cookies' }, { path: '/missing' }, { method: 'HEAD', path: '/hello' }, { method: 'POST', path: '/echo', body: 'express body\n' },
    ],
  },
  // Worker threads: the same answers, the same events.
  { app: 'plain.mjs', args: ['method=threaded'], asks: [{ path: '/hello' }, { path: '/stream' }, { method: 'HEAD', path: '/hello' }] },
];

describe.runIf(need('nginx'))('what the app sees: runfcgi against Node\'s own server', () => {
  for (const { app, args = [], asks } of APPS) {
    describe(`${app} ${args.join(' ')}`, () => {
      let dir: string;
      let pair: Pair;
      beforeAll(async () => {
        dir = tempDir();
        pair = await startPair(dir, app, args);
      });
      afterAll(async () => {
        await pair?.stop();
        fs.rmSync(dir, { recursive: true, force: true });
      });

      for (const ask of asks) {
        it(`answers ${ask.method ?? 'GET'} ${ask.path} with the same status, headers and body`, async () => {
          const node = await answer(pair.node, ask);
          const ours = await answer(pair.runfcgi, ask);
          expect(ours).toEqual(node);
        });
      }

      it('gives an HTTP/1.0 client the same head and body, with a length it can trust', async () => {
        const ask = 'GET /hello HTTP/1.0\r\nHost: localhost\r\n\r\n';
        const node = http10(await rawRequest(pair.node.port, ask).response);
        const ours = http10(await rawRequest(pair.runfcgi.port, ask).response);
        expect(ours).toEqual(node);
        expect(ours.headers).toContain('content-length: 12');
      });

      it('tells the app at once when its client leaves: req and res close, unfinished; late writes are dropped', async () => {
        const done = (events: { event: string }[]): boolean => events.some((e) => e.event === 'late write');
        const node = await clientLeaves(pair.node, done);
        const ours = await clientLeaves(pair.runfcgi, done);
        expect(leaving(node).map((e) => e.event)).not.toContain('timer');
        expect(leaving(ours)).toEqual(leaving(node));
        expect(ours).toContainEqual(expect.objectContaining({ event: 'res close', writableFinished: false }));
        if (args.includes('loglevel=debug')) {
          expect(pair.runfcgiServer.output()).toMatch(/the client left: request closed/);
          let count = 0;
          await waitFor(async () => {
            const status = (await (await fetch(pair.runfcgi.url('/runfcgi-status?json'))).json()) as { abortedRequests: number };
            count = status.abortedRequests;
            return count >= 1;
          }, 20_000, 'the status page to count the client that left');
          expect(count).toBe(1);
        }
      });
    });
  }

  describe('fetch.mjs (under Node: @hono/node-server)', () => {
    let dir: string;
    let pair: Pair;
    beforeAll(async () => {
      dir = tempDir();
      pair = await startPair(dir, 'fetch.mjs');
    });
    afterAll(async () => {
      await pair?.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    const asks: Ask[] = [
      { path: '/hello' }, { path: '/json?x=1' }, { path: '/nocontent' }, { path: '/redirect' }, { path: '/missing' },
      { method: 'HEAD', path: '/hello' }, { method: 'POST', path: '/echo', body: 'fetch body\n' },
    ];
    /**
     * @hono/node-server swaps in a Response of its own, whose default type has a space
     * after the `;`: the reference's quirk, not a difference an app could cause.
     */
    const comparable = (a: Awaited<ReturnType<typeof answer>>, lengths: boolean): typeof a => ({
      ...a,
      headers: a.headers
        .filter(([name]) => lengths || name !== 'content-length')
        .map(([name, value]) => [name, name === 'content-type' ? value.replace('; ', ';') : value]),
    });
    for (const ask of asks) {
      it(`answers ${ask.method ?? 'GET'} ${ask.path} with the same status, headers (Content-Length included) and body`, async () => {
        const node = await answer(pair.node, ask);
        const ours = await answer(pair.runfcgi, ask);
        expect(comparable(ours, true)).toEqual(comparable(node, true));
      });
    }

    it('aborts request.signal at once when the client leaves', async () => {
      const done = (events: { event: string }[]): boolean => events.some((e) => e.event === 'signal abort');
      const node = await clientLeaves(pair.node, done);
      const ours = await clientLeaves(pair.runfcgi, done);
      expect(node.map((e) => e.event)).toEqual(['start', 'signal abort']);
      expect(ours).toEqual(node);
    });
  });

  describe('hook.mjs: cleanup on SIGTERM', () => {
    let dir: string;
    let pair: Pair;
    beforeAll(async () => {
      dir = tempDir();
      pair = await startPair(dir, 'hook.mjs', ['maxchildren=1', 'minspare=1', 'maxspare=1']);
    });
    afterAll(async () => {
      await pair?.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('runs the app\'s SIGTERM cleanup on stop, once its requests are done, as Node\'s own server on kill', async () => {
      expect((await answer(pair.node, { path: '/' })).body).toBe('hello world\n');
      expect((await answer(pair.runfcgi, { path: '/' })).body).toBe('hello world\n');
      expect(await pair.stopNode()).toBe(0);
      // A graceful stop of runfcgi, as systemctl stop sends it.
      expect(await pair.runfcgiServer.stop('SIGTERM')).toBe(0);
      expect(pair.node.events().map((e) => e.event)).toEqual(['sigterm', 'cleaned up']);
      expect(pair.runfcgi.events()).toEqual(pair.node.events());
    });
  });
});
