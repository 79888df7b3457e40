// The documentation against the code: the generated options table, the recipes embedded from
// examples/, links between the pages, and the pages the program's own messages point to.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { optionsMarkdown } from '../../src/config/options.js';
// @ts-expect-error: a plain .mjs script without declarations
import { docPages } from '../../scripts/docs.mjs';

const pages = (docPages as () => string[])();
const read = (file: string): string => fs.readFileSync(file, 'utf8');

/** Pages other developers add on their own branches: linked before they land. */
const ANNOUNCED = new Set(['docs/design.md', 'docs/state.md', 'docs/deploy/caddy.md', 'docs/deploy/haproxy.md', 'docs/deploy/containers.md']);

describe('documentation', () => {
  it("docs/options.md's table is the one generated from the options table (npm run docs)", () => {
    expect(read('docs/options.md')).toContain(optionsMarkdown());
  });

  it('the recipes in the pages are the files in examples/ that the integration tests run (npm run docs)', () => {
    const embedded = pages.flatMap((file) => [...read(file).matchAll(/<!-- example:(\S+) -->/g)].map((m) => m[1]));
    for (const file of ['app.js', 'apache/mysite.conf', 'lighttpd/lighttpd.conf', 'lighttpd/lighttpd-spawn.conf', 'shared-hosting/.htaccess', 'shared-hosting/mysite.fcgi', 'shared-hosting/mysite-js.fcgi', 'nginx/mysite.conf', 'nginx/scale-out.conf', 'systemd/runfcgi.service']) {
      expect(embedded).toContain(file);
    }
    expect(() => execFileSync(process.execPath, ['scripts/docs.mjs'], { stdio: 'pipe' })).not.toThrow();
  });

  it("docs/state.md's recipes are the files in examples/state/ that state-recipes.test.ts runs", () => {
    const page = fs.readFileSync('docs/state.md', 'utf8');
    const embedded = [...page.matchAll(/<!-- example:(\S+) -->/g)].map((m) => m[1]);
    expect(embedded).toEqual(['state/session-memory.mjs', 'state/socketio.mjs', 'state/session-redis.mjs']);
  });

  it('docs/deploy/containers.md embeds the container recipes the integration tests run (npm run docs)', () => {
    const page = fs.readFileSync('docs/deploy/containers.md', 'utf8');
    const embedded = [...page.matchAll(/<!-- example:(\S+) -->/g)].map((m) => m[1]);
    expect(embedded).toEqual(['containers/Containerfile', 'containers/nginx.conf', 'containers/compose.yaml', 'kubernetes/pod.yaml']);
    for (const file of embedded) expect(page).toContain(fs.readFileSync(`examples/${file!}`, 'utf8').trimEnd());
  });

  it('the Caddy and HAProxy pages embed the recipes the integration tests run (npm run docs)', () => {
    for (const [page, file] of [['docs/deploy/caddy.md', 'caddy/Caddyfile'], ['docs/deploy/haproxy.md', 'haproxy/haproxy.cfg']] as const) {
      const text = fs.readFileSync(page, 'utf8');
      expect(text).toContain(`<!-- example:${file} -->`);
      expect(text).toContain(fs.readFileSync(`examples/${file}`, 'utf8').trimEnd());
    }
  });

  it('the README is for users: install first, then the quick start, in under 250 lines', () => {
    const readme = read('README.md');
    const install = readme.indexOf('npm install runfcgi');
    const quickStart = readme.indexOf('npx runfcgi app=./app.js');
    expect(install).toBeGreaterThan(0);
    expect(quickStart).toBeGreaterThan(install);
    expect(readme.split('\n').length).toBeLessThan(250);
  });

  it('every relative link in README, CONTRIBUTING and docs/ names a file that exists', () => {
    const broken: string[] = [];
    for (const file of pages) {
      for (const [, target] of read(file).matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target!) || target!.startsWith('#')) continue;
        const resolved = path.normalize(path.join(path.dirname(file), target!.split('#')[0]!));
        if (!fs.existsSync(resolved) && !ANNOUNCED.has(resolved)) broken.push(`${file}: ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it("the program's messages point to pages that exist, never to 'the README'", () => {
    const sources = fs.readdirSync('src', { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    const named = new Set<string>();
    const readme: string[] = [];
    for (const file of sources) {
      const text = read(path.join('src', file));
      for (const [page] of text.matchAll(/docs\/[\w/-]+\.md/g)) named.add(page);
      // Strings, not comments: a quoted or templated "README".
      if (/['`"][^'`"\n]*\bREADME\b[^'`"\n]*['`"]/.test(text)) readme.push(file);
    }
    expect(readme).toEqual([]);
    for (const page of named) expect(fs.existsSync(page), page).toBe(true);
  });
});
