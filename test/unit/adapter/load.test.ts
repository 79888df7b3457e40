import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadApp } from '../../../src/adapter/load.js';
import { AppLoadError, EXIT_APP_LOAD } from '../../../src/shared/errors.js';
import { exchange } from '../../helpers/adapter.js';

/** A logger that keeps its lines, to see what discovery said it found. */
function recordingLog(): { log: pino.Logger; lines: () => string[] } {
  const lines: string[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => void lines.push((JSON.parse(s) as { msg: string }).msg) });
  return { log, lines: () => lines };
}

let root: string;

/** Writes files (path -> text) under a fresh directory of the test's own. */
function project(name: string, files: Record<string, string>): string {
  const dir = path.join(root, name);
  for (const [file, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), text);
  }
  return dir;
}

const says = (word: string): string => `(req, res) => { res.setHeader('content-type', 'text/plain'); res.end(${JSON.stringify(word)}); }`;

async function answer(spec: string): Promise<{ body: string; lines: string[] }> {
  const { log, lines } = recordingLog();
  const handler = await loadApp(spec, { debug: false, log }, root);
  const ex = await exchange(handler, { REQUEST_URI: '/', SCRIPT_NAME: '' });
  return { body: ex.body.toString(), lines: lines() };
}

async function failure(spec: string): Promise<AppLoadError> {
  const error = await loadApp(spec, { debug: false, log: pino({ level: 'silent' }) }, root).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(AppLoadError);
  expect((error as AppLoadError).exitCode).toBe(EXIT_APP_LOAD);
  return error as AppLoadError;
}

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'runfcgi-load-'));
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('app= finds the handler without a wrapper', () => {
  it('takes a named export handler (SvelteKit build/handler.js, Astro entry.mjs) and says so', async () => {
    project('named', { 'handler.mjs': `export const handler = ${says('from handler')};\nexport const other = 1;\n` });
    const { body, lines } = await answer('./named/handler.mjs');
    expect(body).toBe('from handler');
    expect(lines.join('\n')).toContain('the named export handler');
  });

  it('takes a named export listener (Nitro node-listener)', async () => {
    project('listener', { 'index.mjs': `export const listener = ${says('from listener')};\n` });
    expect((await answer('./listener/index.mjs')).body).toBe('from listener');
  });

  it('prefers the default export to named ones', async () => {
    project('both', { 'app.mjs': `export const handler = ${says('named')};\nexport default ${says('default')};\n` });
    expect((await answer('./both/app.mjs')).body).toBe('default');
  });

  it('serves a React Router server build through @react-router/node from the build\'s own dependencies', async () => {
    project('rr', {
      'package.json': '{"type":"module"}',
      'build/server/index.js': `export const routes = { root: {} };\nexport const entry = { module: {} };\nexport const assets = { version: '1' };\n`,
      'node_modules/@react-router/node/package.json': '{"name":"@react-router/node","type":"module","main":"index.js"}',
      'node_modules/@react-router/node/index.js':
        `export function createRequestListener({ build, mode }) { return (req, res) => res.end('rr ' + mode + ' ' + build.assets.version); }\n`,
    });
    const { body, lines } = await answer('./rr');
    expect(body).toBe('rr production 1');
    expect(lines.join('\n')).toMatch(/React Router server build.*build\/server\/index\.js/);
  });

  it('finds a SvelteKit build in a project directory by its build/handler.js', async () => {
    project('kit', { 'package.json': '{"type":"module"}', 'build/handler.js': `export const handler = ${says('kit')};\n` });
    const { body, lines } = await answer('./kit');
    expect(body).toBe('kit');
    expect(lines.join('\n')).toContain('the build entry build/handler.js');
  });

  it("falls back to package.json's main in a project directory", async () => {
    project('main', { 'package.json': '{"main":"server.cjs"}', 'server.cjs': `module.exports = ${says('main')};\n` });
    expect((await answer('./main')).body).toBe('main');
  });

  it('prepares a built Next.js project (.next) before it reports the app loaded', async () => {
    project('next', {
      '.next/BUILD_ID': 'x',
      'node_modules/next/package.json': '{"name":"next","main":"index.js"}',
      // prepare() takes a while, as Next's does: the handler must not be returned before it ends.
      'node_modules/next/index.js': `
        module.exports = function next({ dir, dev }) {
          let prepared = false;
          return {
            prepare: () => new Promise((r) => setTimeout(() => { prepared = true; r(); }, 300)),
            getRequestHandler: () => (req, res) => res.end('next ' + require('path').basename(dir) + ' dev=' + dev + ' prepared=' + prepared),
          };
        };`,
    });
    const { body, lines } = await answer('./next');
    expect(body).toBe('next next dev=false prepared=true');
    expect(lines.join('\n')).toContain('Next.js project');
  });

  it('names what it looked for, and the recipe, when a directory holds no app', async () => {
    project('empty', { 'README.txt': 'nothing here' });
    const error = await failure('./empty');
    expect(error.message).toMatch(/^app=\.\/empty is a directory with no app runfcgi knows: looked for \.next/);
    expect(error.message).toContain('build/handler.js');
    expect(error.message).toContain('docs/frameworks.md');
  });

  it('names the named exports it tried when a module exports no app', async () => {
    project('none', { 'lib.mjs': 'export const version = 3;\n' });
    const error = await failure('./none/lib.mjs');
    expect(error.message).toContain('an object with keys version');
    expect(error.message).toContain('handler, listener');
    expect(error.message).toContain('docs/frameworks.md');
  });

  it('says to install the dependencies when a Next.js project has no next package', async () => {
    project('next-bare', { '.next/BUILD_ID': 'x' });
    const error = await failure('./next-bare');
    expect(error.message).toMatch(/^app=\.\/next-bare: cannot find next from .*npm ci/);
  });

  it('reports a prepare() that throws as an app-load failure', async () => {
    project('next-broken', {
      '.next/BUILD_ID': 'x',
      'node_modules/next/package.json': '{"name":"next","main":"index.js"}',
      'node_modules/next/index.js': `module.exports = () => ({ prepare: async () => { throw new Error('no production build'); }, getRequestHandler() {} });`,
    });
    expect((await failure('./next-broken')).message).toBe('app=./next-broken: no production build');
  });
});

describe('app= with an async start-up', () => {
  it('awaits a default export that is a promise (an async app factory such as NestJS needs)', async () => {
    project('factory', { 'app.cjs': `exports.default = new Promise((r) => setTimeout(() => r(${says('built')}), 200));\n` });
    const { body, lines } = await answer('./factory/app.cjs');
    expect(body).toBe('built');
    expect(lines.join('\n')).toContain('a promise, awaited');
  });

  it("reports a factory's rejected promise as an app-load failure", async () => {
    project('factory-broken', { 'app.mjs': `export default Promise.reject(new Error('no database'));\n` });
    expect((await failure('./factory-broken/app.mjs')).message).toBe('app=./factory-broken/app.mjs: no database');
  });

  it("keeps @astrojs/node's standalone entry from starting a server of its own on import", async () => {
    project('astro', { 'entry.mjs': `export const handler = (req, res) => res.end('autostart=' + process.env.ASTRO_NODE_AUTOSTART);\n` });
    expect((await answer('./astro/entry.mjs')).body).toBe('autostart=disabled');
  });
});
