// The framework recipes of docs/frameworks.md as written (examples/<framework>/): nginx and Apache serve the hashed
// build files from disk and pass the rest, the framework's form handling included, to runfcgi.

import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtApp, onThisNode } from '../helpers/apps.js';
import { waitFor } from '../helpers/load.js';
import { startNginxWith } from '../helpers/nginx.js';
import { need, start, tempDir, type Started } from '../helpers/run.js';
import { EXAMPLES, startApache, type WebServer } from '../helpers/servers.js';

const BUILD_MS = 900_000;

interface Recipe {
  name: string;
  fixture: string;
  folder: string;
  /** runfcgi's words besides app= and socket=, as the recipe says (ORIGIN: the site's address). */
  env(origin: string): string[];
  asset: RegExp;
  /** The framework's form handling without JavaScript; resolves to the response. */
  form(base: string): Promise<Response>;
  /** The web servers it has a recipe for (all when not given). */
  fronts?: string[];
}

const recipes: Recipe[] = [
  {
    name: 'Next.js',
    fixture: 'next',
    folder: 'nextjs',
    env: () => [],
    asset: /\/_next\/static\/chunks\/[\w-]+\.js/,
    async form(base) {
      const page = await (await fetch(`${base}/form`)).text();
      const id = /name="(\$ACTION_ID_\w+)"/.exec(page)?.[1] ?? 'missing';
      const data = new FormData();
      data.append(id, '');
      data.append('name', 'Ann');
      return fetch(`${base}/form`, { method: 'POST', body: data, redirect: 'manual', headers: { origin: base, accept: 'text/html' } });
    },
  },
  {
    name: 'SvelteKit',
    fixture: 'svelte',
    folder: 'sveltekit',
    env: (origin) => [`env=ORIGIN=${origin}`],
    asset: /\/_app\/immutable\/[\w/.-]+\.js/,
    form: (base) => fetch(`${base}/form`, { method: 'POST', body: new URLSearchParams({ name: 'Ann' }), redirect: 'manual', headers: { origin: base, accept: 'text/html' } }),
  },
  {
    name: 'React Router',
    fixture: 'react-router',
    folder: 'react-router',
    env: () => [],
    asset: /\/assets\/entry\.client-[\w-]+\.js/,
    form: (base) => fetch(`${base}/form`, { method: 'POST', body: new URLSearchParams({ name: 'Ann' }), redirect: 'manual', headers: { origin: base, accept: 'text/html' } }),
    fronts: ['nginx'],
  },
];

const declared: Recipe[] = [
  ...recipes,
  {
    name: 'Astro',
    fixture: 'astro',
    folder: 'astro',
    env: () => [],
    asset: /\/_astro\/[\w.-]+\.css/,
    // Astro 7 answers 403 unless the Host is in security.allowedDomains (the recipe's config).
    form: (base) => fetch(`${base}/form`, { method: 'POST', body: new URLSearchParams({ name: 'Ann' }), redirect: 'manual', headers: { origin: base, accept: 'text/html' } }),
    fronts: ['nginx'],
  },
  {
    name: 'Nuxt',
    fixture: 'nuxt',
    folder: 'nuxt',
    env: () => [],
    asset: /\/_nuxt\/[\w.-]+\.js/,
    form: (base) => fetch(`${base}/form`, { method: 'POST', body: new URLSearchParams({ name: 'Ann' }), redirect: 'manual', headers: { origin: base, accept: 'text/html' } }),
    fronts: ['nginx'],
  },
];

/** A recipe file with the app's directory, its socket and the port of the test's own. */
function recipeText(file: string, app: string, socket: string, port: number): string {
  return fs.readFileSync(path.join(EXAMPLES, file), 'utf8')
    .replaceAll('/home/user/myapp/app.sock', socket)
    .replaceAll('/home/user/myapp', app)
    .replaceAll('listen 80;', `listen 127.0.0.1:${port};`)
    .replaceAll('8081', String(port));
}

type Front = { name: string; needs: string; start(folder: string, dir: string, app: string, socket: string): Promise<WebServer> };

const fronts: Front[] = [
  {
    name: 'nginx',
    needs: 'nginx',
    async start(folder, dir, app, socket) {
      // Debian's nginx.conf includes mime.types in its http block, where sites-enabled/ goes too.
      const nginx = await startNginxWith(dir, (port) => `include /etc/nginx/mime.types;\n${recipeText(`${folder}/nginx.conf`, app, socket, port)}`);
      return { port: nginx.port, url: nginx.url, log: nginx.errorLog, stop: nginx.stop };
    },
  },
  {
    name: 'Apache',
    needs: 'apache2',
    start: (folder, dir, app, socket) => startApache(dir, ['proxy', 'proxy_fcgi', 'alias', 'headers'], (port) => recipeText(`${folder}/apache.conf`, app, socket, port)),
  },
];

describe.each(onThisNode(declared).map((r) => [r.name, r] as const))('the %s recipe', (_name, recipe) => {
  let app: string;
  beforeAll(async () => {
    app = await builtApp(recipe.fixture);
  }, BUILD_MS);

  describe.each(fronts.filter((f) => recipe.fronts?.includes(f.name) ?? true).map((f) => [f.name, f] as const))('behind %s', (_front, front) => {
    let work: string;
    let web: WebServer;
    let server: Started;

    beforeAll(async () => {
      if (!need(front.needs)) return;
      work = tempDir('runfcgi-recipe-');
      const socket = path.join(work, 'app.sock');
      web = await front.start(recipe.folder, work, app, socket);
      server = start([`app=${app}`, `socket=${socket}`, 'umask=000', ...recipe.env(`http://127.0.0.1:${web.port}`)]);
      await waitFor(() => server.output().includes('runfcgi is listening'), 120_000, 'runfcgi to serve');
    }, 180_000);

    afterAll(async () => {
      await server?.stop();
      await web?.stop();
      if (work) fs.rmSync(work, { recursive: true, force: true });
    });

    it.runIf(need(front.needs))('serves pages and form posts through runfcgi, hashed files from disk', async () => {
      const base = web.url('');
      const page = await fetch(`${base}/ssr?name=Recipe`);
      const html = await page.text();
      expect(page.status, web.log()).toBe(200);
      expect(html).toMatch(/Hello,? (<!-- -->)?Recipe/);
      // On a port other than 80: the recipe's Host line is what lets the form through.
      const posted = await recipe.form(base);
      expect(posted.status, await posted.clone().text()).toBe(303);
      expect(posted.headers.get('location')).toMatch(/\/ssr\?name=Ann$/);
      const asset = recipe.asset.exec(html)?.[0];
      expect(asset).toBeDefined();
      // With runfcgi gone, the web server still serves the hashed file: from disk, cached for a year.
      await server.stop();
      const file = await fetch(`${base}${asset!}`);
      expect(file.status).toBe(200);
      expect(file.headers.get('content-type')).toMatch(/javascript|css/);
      expect(file.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect(Buffer.from(await file.arrayBuffer()).length).toBeGreaterThan(0);
    });
  });
});
