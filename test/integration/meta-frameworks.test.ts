// Framework production builds (Next.js, SvelteKit, React Router, Astro, NestJS, Nuxt) under runfcgi behind the real nginx, answer for answer
// against the framework's own server behind nginx's proxy_pass: one nginx, the backend chosen per request.

import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtApp, onThisNode, startOwnServer, type OwnServer } from '../helpers/apps.js';
import { waitFor } from '../helpers/load.js';
import { startNginxWith, type Nginx } from '../helpers/nginx.js';
import { freePort, need, start, tempDir, type Started } from '../helpers/run.js';

/** Builds are slow on a loaded 2-core machine: npm ci and a production build, once per run. */
const BUILD_MS = 900_000;

interface Ctx {
  dir: string;
  /** The test's own temporary directory. */
  tmp: string;
  /** What the browser would call the site: http://127.0.0.1:PORT. */
  origin: string;
}

interface FrameworkApp {
  name: string;
  fixture: string;
  /** The framework's own production server: node arguments and environment. */
  own(ctx: Ctx): { args: string[]; env: Record<string, string> };
  /** runfcgi's app= and env= words: no mount module, as docs/frameworks.md's recipe says. */
  runfcgi(ctx: Ctx): string[];
  /** What the log says runfcgi found. */
  found: RegExp;
  /** A hashed asset the SSR page links to (none: an API framework). */
  asset: RegExp | null;
  /** Where absolute URLs take their scheme: the request (HTTPS=on, X-Forwarded-Proto) or a configured origin. */
  scheme: 'request' | 'ORIGIN';
  /** The framework's own form handling, posted as a browser without JavaScript would. */
  form(get: Get, origin: string): Promise<Response>;
  /** The framework's own server does not believe X-Forwarded-Proto: behind a TLS proxy it says http. */
  ownSaysHttpBehindTls?: boolean;
  /** What the framework's own server adds that is not the framework's answer (a documented difference). */
  ownExtras?: (a: Answer) => void;
}

type Get = (p: string, init?: RequestInit & { backend?: Backend }) => Promise<Response>;
type Backend = 'runfcgi' | 'own';

const frameworks: FrameworkApp[] = [
  {
    name: 'Next.js 16 (app router)',
    fixture: 'next',
    own: ({ dir }) => ({ args: [path.join(dir, 'node_modules/next/dist/bin/next'), 'start'], env: {} }),
    runfcgi: ({ dir }) => [`app=${dir}`],
    found: /serving a Next\.js project, prepared/,
    asset: /\/_next\/static\/chunks\/[\w-]+\.js/,
    scheme: 'request',
    // A Server Action without JavaScript: the page's hidden $ACTION_ID_ field, multipart, Origin checked against Host.
    async form(get, origin) {
      const page = await (await get('/form')).text();
      const id = /name="(\$ACTION_ID_\w+)"/.exec(page)?.[1];
      if (id === undefined) throw new Error(`no Server Action in the form page: ${page.slice(0, 500)}`);
      const data = new FormData();
      data.append(id, '');
      data.append('name', 'Ann Lee');
      return get('/form', { method: 'POST', body: data, headers: { origin, accept: 'text/html' } });
    },
  },
  {
    name: 'SvelteKit 3 (adapter-node 6)',
    fixture: 'svelte',
    // ORIGIN: adapter-node takes the site's address from it (form actions compare Origin with it);
    // BODY_SIZE_LIMIT: its default, 512 KiB, is under the 1 MB POST.
    own: ({ dir, origin }) => ({ args: [path.join(dir, 'build')], env: { ORIGIN: origin, BODY_SIZE_LIMIT: '2M' } }),
    runfcgi: ({ dir, origin }) => [`app=${dir}`, `env=ORIGIN=${origin}`, 'env=BODY_SIZE_LIMIT=2M'],
    found: /serving the named export handler in the build entry build\/handler\.js/,
    asset: /\/_app\/immutable\/[\w/.-]+\.js/,
    // adapter-node builds them from ORIGIN when set (the recipe sets it): https only if ORIGIN says so.
    scheme: 'ORIGIN',
    form: (get, origin) =>
      // accept: text/html, as a browser: with */* SvelteKit answers an action with JSON, as for its own fetch.
      get('/form', { method: 'POST', body: new URLSearchParams({ name: 'Ann Lee' }), headers: { origin, accept: 'text/html' } }),
  },
  {
    name: 'React Router 8 (framework mode)',
    fixture: 'react-router',
    // node_modules/.bin: the bin's file moved (bin.js in 7, bin.cjs in 8).
    own: ({ dir }) => ({ args: [path.join(dir, 'node_modules/.bin/react-router-serve'), 'build/server/index.js'], env: {} }),
    runfcgi: ({ dir }) => [`app=${dir}`],
    found: /serving a React Router server build \(served by @react-router\/node\) in the build entry build\/server\/index\.js/,
    // @react-router/node serves no files (react-router-serve adds express.static): the web
    // server serves build/client, as the recipe says and framework-recipes.test.ts checks.
    asset: null,
    scheme: 'request',
    // react-router-serve is Express with compression around the same handler: Express appends
    // "; charset=utf-8" to Content-Type, compression adds Vary. @react-router/node does neither.
    // react-router-serve's Express has no `trust proxy`; under runfcgi HTTPS=on is the socket's own TLS.
    ownSaysHttpBehindTls: true,
    ownExtras: (a) => {
      if (a.headers['content-type']) a.headers['content-type'] = a.headers['content-type'].replace('; charset=utf-8', '');
      if (a.headers.vary === 'Accept-Encoding') delete a.headers.vary;
    },
    form: (get, origin) =>
      get('/form', { method: 'POST', body: new URLSearchParams({ name: 'Ann Lee' }), headers: { origin, accept: 'text/html' } }),
  },
  {
    name: 'Astro 7 (@astrojs/node 11, standalone)',
    fixture: 'astro',
    own: ({ dir }) => ({ args: [path.join(dir, 'dist/server/entry.mjs')], env: {} }),
    runfcgi: ({ dir }) => [`app=${dir}`],
    found: /serving the named export handler in the build entry dist\/server\/entry\.mjs/,
    asset: /\/_astro\/[\w.-]+\.css/,
    scheme: 'request',
    // A page that handles its own POST; Astro's checkOrigin compares Origin with the request's URL.
    form: (get, origin) =>
      get('/form', { method: 'POST', body: new URLSearchParams({ name: 'Ann Lee' }), headers: { origin, accept: 'text/html' } }),
  },
  {
    name: 'NestJS 12 (Express)',
    fixture: 'nest',
    own: ({ dir }) => ({ args: [path.join(dir, 'dist/main.js')], env: {} }),
    // The mount module (src/fcgi.ts): the app, initialised, as a promise of its Express instance.
    runfcgi: ({ dir }) => [`app=${path.join(dir, 'dist/fcgi.js')}`],
    found: /serving the default export \(a promise, awaited\)/,
    asset: null,
    scheme: 'request',
    // A POST validated by class-validator (ValidationPipe), then @Redirect.
    form: (get) => get('/form', { method: 'POST', body: new URLSearchParams({ name: 'Ann Lee', email: 'ann@example.org' }) }),
  },
  {
    name: 'Nuxt 4.6 (Nitro node-listener)',
    fixture: 'nuxt',
    // The build is a (req, res) listener (the recipe's preset), with no server of its own: its
    // "own server" is the one Nitro's node-server preset makes of it, Node's http.createServer.
    own: () => ({
      args: ['--input-type=module', '-e', "import http from 'node:http'; import { listener } from './.output/server/index.mjs'; http.createServer(listener).listen(Number(process.env.PORT), process.env.HOST);"],
      env: {},
    }),
    runfcgi: ({ dir }) => [`app=${dir}`],
    found: /serving the named export handler in the build entry \.output\/server\/index\.mjs/,
    asset: /\/_nuxt\/[\w.-]+\.js/,
    scheme: 'request',
    // A server route reading the form with readBody.
    form: (get, origin) =>
      get('/form', { method: 'POST', body: new URLSearchParams({ name: 'Ann Lee' }), headers: { origin, accept: 'text/html' } }),
  },
];

/** Headers the two may differ in without the app seeing a difference: the connection's own, and the clock. */
const IGNORED = new Set(['date', 'connection', 'keep-alive', 'transfer-encoding', 'server']);

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

async function answer(res: Response): Promise<Answer> {
  const headers: Record<string, string> = {};
  res.headers.forEach((value, name) => {
    if (!IGNORED.has(name)) headers[name] = value;
  });
  const cookies = res.headers.getSetCookie();
  if (cookies.length > 0) headers['set-cookie'] = cookies.join(' | ');
  return { status: res.status, headers, body: await res.text() };
}

/**
 * nginx with both backends on one port: `x-backend: own` goes to the
 * framework's server (proxy_pass), anything else to runfcgi (FastCGI, the
 * recipe's lines). `x-test-https: on` plays a TLS front: HTTPS=on for
 * runfcgi, X-Forwarded-Proto: https for the framework's server. A second
 * port has Debian's fastcgi_params alone (HTTP_HOST without the port).
 */
async function nginxForBoth(dir: string, socket: string, ownPort: number, stockPort: number): Promise<Nginx> {
  return startNginxWith(dir, (port) => `
  map $http_x_test_https $fcgi_https { default ""; on on; }
  map $http_x_test_https $forwarded_proto { default http; on https; }
  upstream app { server unix:${socket} max_fails=0; keepalive 16; }
  server {
    listen 127.0.0.1:${port};
    location / {
      include fastcgi_params;
      # Debian's fastcgi_params send HTTP_HOST $host, without the port: send the browser's Host.
      fastcgi_param HTTP_HOST $http_host;
      fastcgi_param HTTPS $fcgi_https if_not_empty;
      fastcgi_keep_conn on;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-Proto $forwarded_proto;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      if ($http_x_backend = own) { proxy_pass http://127.0.0.1:${ownPort}; }
      fastcgi_pass app;
    }
  }
  server {
    listen 127.0.0.1:${stockPort};
    location / { include fastcgi_params; fastcgi_pass app; }
  }`);
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const megabyte = randomBytes(1024 * 1024);

describe.runIf(need('nginx'))('framework builds under runfcgi behind nginx, against their own servers', () => {
  describe.each(onThisNode(frameworks).map((f) => [f.name, f] as const))('%s', (_name, fw) => {
    let tmp: string;
    let ctx: Ctx;
    let socket: string;
    let nginx: Nginx;
    let stockPort: number;
    let own: OwnServer;

    const get: Get = (p, init = {}) => {
      const { backend = 'runfcgi', headers, ...rest } = init;
      // identity: react-router-serve compresses by itself (compression is the web server's job under runfcgi).
      const all = { 'x-backend': backend, 'accept-encoding': 'identity', ...(headers as Record<string, string>) };
      return fetch(nginx.url(p), { redirect: 'manual', ...rest, headers: all });
    };
    /** runfcgi on the socket nginx passes to, with the recipe's words and the test's LEFT_FILE. */
    const runfcgiArgs = (): string[] => [...fw.runfcgi(ctx), `env=LEFT_FILE=${path.join(tmp, 'left-runfcgi.txt')}`, `socket=${socket}`, 'umask=000'];
    /** The same request to both: runfcgi's answer and the framework's own. */
    const both = async (p: string, init: () => RequestInit = () => ({})): Promise<[Answer, Answer]> => {
      const ours = await answer(await get(p, { ...init(), backend: 'runfcgi' }));
      const theirs = await answer(await get(p, { ...init(), backend: 'own' }));
      fw.ownExtras?.(theirs);
      return [ours, theirs];
    };

    beforeAll(async () => {
      const dir = await builtApp(fw.fixture);
      tmp = tempDir('runfcgi-mf-');
      socket = path.join(tmp, 'app.sock');
      const ownPort = await freePort();
      stockPort = await freePort();
      nginx = await nginxForBoth(tmp, socket, ownPort, stockPort);
      ctx = { dir, tmp, origin: `http://127.0.0.1:${nginx.port}` };
      const { args, env } = fw.own(ctx);
      // LEFT_FILE: where /slow notes a client that left (see the test of that).
      own = await startOwnServer(dir, args, ownPort, { ...env, LEFT_FILE: path.join(tmp, 'left-own.txt') });
    }, BUILD_MS);

    afterAll(async () => {
      await own?.stop();
      await nginx?.stop();
      if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    });

    describe.each(['prefork', 'threaded'])('method=%s', (method) => {
      let server: Started;

      beforeAll(async () => {
        server = start([...runfcgiArgs(), `method=${method}`, 'minspare=1', 'maxspare=1']);
        await waitFor(() => server.output().includes('runfcgi is listening') || server.child.exitCode !== null, 120_000, 'runfcgi to serve');
        if (server.child.exitCode !== null) throw new Error(`runfcgi exited ${server.child.exitCode}:\n${server.output()}`);
      }, 180_000);

      afterAll(async () => {
        await server?.stop();
      });

      it('finds the app in the project directory with no mount module, and says what it found', () => {
        expect(server.output()).toMatch(fw.found);
      });

      it('renders an SSR page from a query parameter as the framework does', async () => {
        const [ours, theirs] = await both('/ssr?name=Ann%20%26%20Bob');
        expect(ours.body).toContain('Ann &amp; Bob');
        expect(ours).toEqual(theirs);
      });

      it('echoes a JSON POST', async () => {
        const [ours, theirs] = await both('/api/echo', () => ({ method: 'POST', body: JSON.stringify({ a: [1, 'two'] }), headers: { 'content-type': 'application/json' } }));
        expect(JSON.parse(ours.body)).toEqual({ echo: { a: [1, 'two'] } });
        expect(ours).toEqual(theirs);
      });

      it("handles the framework's own form POST (no JavaScript) with its redirect", async () => {
        const ours = await answer(await fw.form((p, init) => get(p, { ...init, backend: 'runfcgi' }), ctx.origin));
        const theirs = await answer(await fw.form((p, init) => get(p, { ...init, backend: 'own' }), ctx.origin));
        fw.ownExtras?.(theirs);
        expect(ours.status).toBe(303);
        expect(ours.headers.location).toMatch(/\/ssr\?name=Ann(%20|\+)Lee$/);
        expect(ours).toEqual(theirs);
      });

      if (fw.fixture === 'nest') {
        it('refuses an invalid POST with the validation errors', async () => {
          const [ours, theirs] = await both('/form', () => ({ method: 'POST', body: new URLSearchParams({ name: 'A', email: 'nope' }) }));
          expect(ours.status).toBe(400);
          expect(ours.body).toContain('email must be an email');
          expect(ours).toEqual(theirs);
        });
      }

      it('redirects', async () => {
        const [ours, theirs] = await both('/go');
        expect(ours.headers.location).toMatch(/\/ssr\?name=redirected$/);
        expect(ours).toEqual(theirs);
      });

      it('sends two Set-Cookie headers', async () => {
        const [ours, theirs] = await both('/cookies');
        expect(ours.headers['set-cookie']?.split(' | ')).toHaveLength(2);
        expect(ours).toEqual(theirs);
      });

      it('answers an unknown path with its own 404 page', async () => {
        const [ours, theirs] = await both('/no/such/page');
        expect(ours.status).toBe(404);
        expect(ours).toEqual(theirs);
      });

      const asset = fw.asset;
      if (asset !== null) {
        it('serves a hashed asset with its content type and cache headers', async () => {
          const page = await (await get('/ssr?name=x')).text();
          const href = asset.exec(page)?.[0];
          expect(href, page.slice(0, 800)).toBeDefined();
          const [ours, theirs] = await both(href!);
          expect(ours.status).toBe(200);
          expect(ours.headers['content-type']).toMatch(/javascript|css/);
          expect(ours.headers['cache-control']).toMatch(/immutable/);
          expect(ours).toEqual(theirs);
        });
      }

      it('takes a 1 MB POST whole', async () => {
        const [ours, theirs] = await both('/api/echo', () => ({ method: 'POST', body: megabyte, headers: { 'content-type': 'application/octet-stream' } }));
        expect(JSON.parse(ours.body)).toEqual({ bytes: megabyte.length, sha256: sha256(megabyte) });
        expect(ours).toEqual(theirs);
      });

      it('answers HEAD with the headers of GET and no body', async () => {
        const [ours, theirs] = await both('/ssr?name=head', () => ({ method: 'HEAD' }));
        expect(ours.status).toBe(200);
        expect(ours.body).toBe('');
        expect(ours).toEqual(theirs);
      });

      // Every fixture's /slow notes in LEFT_FILE that its client left: request.signal (the
      // frameworks' Request is aborted on the response's or the request's 'close'), res 'close' in NestJS.
      it('tells the app when the client leaves before the answer, as its own server does', async () => {
        for (const backend of ['own', 'runfcgi'] as const) {
          const noted = path.join(tmp, `left-${backend}.txt`);
          fs.rmSync(noted, { force: true });
          const leave = new AbortController();
          const pending = get('/slow', { backend, signal: leave.signal }).catch(() => 'left');
          const notes = (): string => (fs.existsSync(noted) ? fs.readFileSync(noted, 'utf8') : '');
          // Leave once the app has the request (a client that leaves earlier never reaches it).
          await waitFor(() => notes().includes('arrived'), 30_000, `${backend}: /slow to reach the app`);
          leave.abort();
          await pending;
          await waitFor(() => notes().includes('left'), 8_000, `${backend}: the app to see the client leave`).catch(() => {});
          expect(notes(), `${backend}: the app saw the client leave`).toBe('arrived\nleft\n');
        }
      });

      it('builds absolute URLs the same way behind TLS (HTTPS=on)', async () => {
        const [ours, theirs] = await both('/absolute?x=1', () => ({ headers: { 'x-test-https': 'on' } }));
        expect(ours.body).toMatch(fw.scheme === 'request' ? /"https:/ : /"http:\/\/127\.0\.0\.1:\d+\/absolute\?x=1"/);
        // Next.js builds request.url from localhost and the port its own server listens on
        // (3000 when it listens on none, as under runfcgi), never from Host: neither is the site's.
        for (const a of [ours, theirs]) a.body = a.body.replaceAll(/localhost:\d+/g, 'localhost:PORT');
        if (fw.ownSaysHttpBehindTls) theirs.body = theirs.body.replaceAll('"http://', '"https://');
        expect(ours).toEqual(theirs);
      });
    });

    if (fw.fixture === 'nest') {
      it(
        "runs Nest's shutdown hooks (enableShutdownHooks) on a graceful stop, as on its own server",
        async () => {
          const witness = path.join(tmp, 'shutdown.txt');
          const server = start([...runfcgiArgs(), 'minspare=1', 'maxspare=1', `env=SHUTDOWN_FILE=${witness}`]);
          await waitFor(() => server.output().includes('runfcgi is listening'), 120_000, 'runfcgi to serve');
          expect((await get('/ssr?name=x')).status).toBe(200);
          expect(await server.stop('SIGTERM')).toBe(0);
          expect(fs.existsSync(witness), server.output()).toBe(true);
        },
        180_000,
      );
    }

    if (fw.fixture === 'next') {
      it(
        "trap: Debian's fastcgi_params alone (HTTP_HOST $host, no port) make a Server Action fail on a non-default port",
        async () => {
          const server = start([...runfcgiArgs(), 'minspare=1', 'maxspare=1']);
          try {
            await waitFor(() => server.output().includes('runfcgi is listening'), 120_000, 'runfcgi to serve');
            const stock: Get = (p, init = {}) => fetch(`http://127.0.0.1:${stockPort}${p}`, { redirect: 'manual', ...init });
            const broken = await fw.form(stock, `http://127.0.0.1:${stockPort}`);
            expect(broken.status).toBe(500);
            // The line of the recipe mends it: the same action through the main server block.
            const mended = await fw.form(get, ctx.origin);
            expect(mended.status).toBe(303);
          } finally {
            await server.stop();
          }
        },
        180_000,
      );
    }
  });
});
