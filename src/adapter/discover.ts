// Finds the handler in what app= names when it is not a bare listener: a framework build's entry or a project directory.

import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { RequestListener } from 'node:http';

/** The page that explains what app= may name, for errors that cannot guess. */
export const RECIPES = 'docs/frameworks.md';

/** A listener found in a module, with the words the log uses for it. */
export interface Found {
  exported: unknown;
  /** What was found, for the info line: "the named export handler". */
  what: string;
  /** The module it came from, where there is one (its close() export is the app's cleanup). */
  module?: Record<string, unknown>;
}

/**
 * The build entries a framework writes, checked in a project directory in
 * this order: SvelteKit (adapter-node), Astro (@astrojs/node), Nuxt (Nitro),
 * React Router (framework mode), NestJS.
 */
export const BUILD_ENTRIES = ['build/handler.js', 'dist/server/entry.mjs', '.output/server/index.mjs', 'build/server/index.js', 'dist/main.js'];

/** Named exports that hold a (req, res) listener or a fetch app, in the order they are tried. */
export const NAMED_EXPORTS = ['handler', 'listener', 'requestListener', 'app'];

export type Project = { kind: 'next'; dir: string } | { kind: 'module'; file: string; what: string };

/**
 * A directory app= names: a Next.js project once built (`.next`), else the
 * first framework build entry found, else package.json's `main`.
 */
export function findInDirectory(dir: string, spec: string): Project {
  if (fs.existsSync(path.join(dir, '.next'))) return { kind: 'next', dir };
  for (const entry of BUILD_ENTRIES) {
    const file = path.join(dir, entry);
    if (fs.existsSync(file)) return { kind: 'module', file, what: `the build entry ${entry}` };
  }
  const manifest = path.join(dir, 'package.json');
  if (fs.existsSync(manifest)) {
    const main = (JSON.parse(fs.readFileSync(manifest, 'utf8')) as { main?: unknown }).main;
    if (typeof main === 'string' && fs.existsSync(path.join(dir, main))) return { kind: 'module', file: path.join(dir, main), what: `package.json's main (${main})` };
  }
  throw new Error(
    `app=${spec} is a directory with no app runfcgi knows: looked for .next (Next.js, built), ` +
      `${BUILD_ENTRIES.join(', ')}, and package.json's main; build the project first, or name the module (${RECIPES})`,
  );
}

/** React Router's server build: the module itself is the build, served by @react-router/node. */
function isReactRouterBuild(mod: Record<string, unknown>): boolean {
  return typeof mod.routes === 'object' && mod.routes !== null && typeof mod.entry === 'object' && mod.assets !== undefined;
}

/** A package resolved from the app's own directory (it is the app's dependency, not ours). */
export async function importFrom(dir: string, name: string): Promise<Record<string, unknown>> {
  const require = createRequire(path.join(dir, 'noop.js'));
  let resolved: string;
  try {
    resolved = require.resolve(name);
  } catch {
    throw new Error(`cannot find ${name} from ${dir}: install the project's dependencies (npm ci) where it is built`);
  }
  return (await import(pathToFileURL(resolved).href)) as Record<string, unknown>;
}

/** A React Router build as a listener, as react-router-serve makes it (its static files aside). */
async function reactRouterListener(mod: Record<string, unknown>, file: string): Promise<unknown> {
  const node = await importFrom(path.dirname(file), '@react-router/node');
  const create = node.createRequestListener as ((o: { build: unknown; mode?: string }) => RequestListener) | undefined;
  if (typeof create !== 'function') throw new Error('@react-router/node has no createRequestListener: React Router 7 is needed');
  return create({ build: mod, mode: 'production' });
}

/** The named exports, or a React Router build, when the default export is not an app. */
export async function findNamed(mod: Record<string, unknown>, file: string | undefined, isApp: (v: unknown) => boolean): Promise<Found | undefined> {
  for (const name of NAMED_EXPORTS) {
    if (isApp(mod[name])) return { exported: mod[name], what: `the named export ${name}` };
  }
  if (file !== undefined && isReactRouterBuild(mod)) return { exported: await reactRouterListener(mod, file), what: 'a React Router server build (served by @react-router/node)' };
  return undefined;
}

interface NextServer {
  prepare(): Promise<void>;
  getRequestHandler(): RequestListener;
}

/** A built Next.js project: `next({ dir })`, prepared before the worker says it is ready (as `next start`). */
export async function nextListener(dir: string): Promise<RequestListener> {
  // next() reads NODE_ENV; `next start` sets it to production when unset.
  process.env.NODE_ENV ??= 'production';
  const mod = await importFrom(dir, 'next');
  const next = (typeof mod.default === 'function' ? mod.default : (mod.default as { default?: unknown })?.default) as ((o: object) => NextServer) | undefined;
  if (typeof next !== 'function') throw new Error(`the next package in ${dir} exports no next(): Next.js 13 or later is needed`);
  const app = next({ dir, dev: false });
  await app.prepare();
  return app.getRequestHandler();
}
