// Fetch apps as @hono/node-server serves them: GraphQL Yoga's own Response, and the light Response by default.

import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cgiFcgi } from '../helpers/cgi-fcgi.js';
import { appHeaders, startPair, type Pair } from '../helpers/differential.js';
import { FIXTURES, need, start, tempDir, waitForListen } from '../helpers/run.js';

describe.runIf(need('nginx'))('GraphQL Yoga as { fetch: yoga.fetch }: runfcgi against @hono/node-server', () => {
  let dir: string;
  let pair: Pair;
  beforeAll(async () => {
    dir = tempDir();
    pair = await startPair(dir, 'yoga.mjs', ['maxchildren=2', 'minspare=2', 'maxspare=2']);
  });
  afterAll(async () => {
    await pair?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const query = JSON.stringify({ query: 'query($n: String) { hello(name: $n) sum(a: 2, b: 3) }', variables: { n: 'fcgi' } });
  const asks: { name: string; path: string; init?: RequestInit }[] = [
    { name: 'a GET query', path: '/graphql?query=%7Bhello%7D', init: { headers: { accept: 'application/json' } } },
    { name: 'a POST query with variables', path: '/graphql', init: { method: 'POST', body: query, headers: { 'content-type': 'application/json', accept: 'application/json' } } },
    { name: 'a query with an error', path: '/graphql?query=%7Bnope%7D', init: { headers: { accept: 'application/json' } } },
    { name: 'GraphiQL (HTML)', path: '/graphql', init: { headers: { accept: 'text/html' } } },
    { name: 'a path Yoga does not serve', path: '/elsewhere' },
  ];
  for (const ask of asks) {
    it(`answers ${ask.name} with the same status, headers and body`, async () => {
      const get = async (url: string) => {
        const res = await fetch(url, ask.init);
        return { status: res.status, headers: appHeaders(res.headers), body: await res.text() };
      };
      const node = await get(pair.node.url(ask.path));
      const ours = await get(pair.runfcgi.url(ask.path));
      expect(node.status).not.toBe(500);
      expect(ours).toEqual(node);
    });
  }
});

describe.runIf(need('cgi-fcgi'))('fastresponse= by default', () => {
  const app = path.join(FIXTURES, 'state/globals.mjs');
  const cases: [string, string[], Record<string, string>, string][] = [
    ['a fetch handler gets the light Response by default', [], {}, 'FastResponse'],
    ['fastresponse=false keeps Node\'s own Response for a fetch handler', ['fastresponse=false'], {}, 'Response'],
    ['a (req, res) listener keeps Node\'s own Response', [], { LISTENER: '1' }, 'Response'],
    ['fastresponse=true gives a (req, res) listener the light Response too', ['fastresponse=true'], { LISTENER: '1' }, 'FastResponse'],
  ];
  for (const [name, args, env, expected] of cases) {
    it(name, async () => {
      const dir = tempDir();
      const sock = path.join(dir, 'app.sock');
      const server = start([`app=${app}`, `socket=${sock}`, 'maxchildren=1', 'minspare=1', 'maxspare=1', ...Object.entries(env).map(([k, v]) => `env=${k}=${v}`), ...args]);
      try {
        await waitForListen(sock);
        const got = await cgiFcgi(sock, { REQUEST_URI: '/', HTTP_HOST: 'localhost' });
        expect(got.body.toString()).toBe(`${expected}\n`);
      } finally {
        await server.stop();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
