// Loads app=MODULE and picks the adapter its export calls for.

import { Server, type RequestListener } from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import fs from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { AppLoadError } from '../shared/errors.js';
import { isModulePath } from '../config/option-values.js';
import { describeLoadError } from './load-error.js';
import { trapListen } from './listen-trap.js';
import { findInDirectory, findNamed, NAMED_EXPORTS, nextListener, RECIPES, type Found } from './discover.js';
import { fetchHandler, type FetchApp } from './fetch.js';
import { nodeHandler } from './node.js';
import type { AdapterOptions, RequestHandler } from './types.js';
import { welcome } from './welcome.js';

/** A path (./app.js, /srv/app.mjs) or a package name, resolved from `cwd`. */
function resolveModule(spec: string, cwd: string): string {
  if (isModulePath(spec)) {
    return pathToFileURL(path.resolve(cwd, spec)).href;
  }
  try {
    return pathToFileURL(createRequire(path.join(cwd, 'noop.js')).resolve(spec)).href;
  } catch {
    return spec; // ESM-only packages: let import() resolve it.
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  // A main.ts that calls listen() itself (NestJS's, Express's app.listen) and exports nothing.
  if (typeof value === 'object' && Object.keys(value).length === 0) return 'nothing (a module that starts its own server must export the app instead of calling listen())';
  if (typeof value === 'object') return `an object with keys ${Object.keys(value).join(', ')}`;
  return `a ${typeof value}`;
}

function isFetchApp(value: unknown): value is FetchApp {
  return typeof value === 'object' && value !== null && typeof (value as FetchApp).fetch === 'function';
}

/** The export's shape decides: http.Server, fetch handler, (req, res) listener, or a Koa app. */
export function handlerFor(exported: unknown, options: AdapterOptions, name: string): RequestHandler {
  if (exported instanceof Server) {
    const server = exported;
    return nodeHandler((req, res) => void server.emit('request', req, res), options);
  }
  if (isFetchApp(exported)) return fetchHandler(exported, options);
  if (typeof exported === 'function') return nodeHandler(exported as RequestListener, options);
  const koa = exported as { callback?: () => RequestListener } | null;
  if (typeof koa?.callback === 'function') return nodeHandler(koa.callback(), options);
  throw new AppLoadError(
    `app=${name} exports ${describe(exported)}: expected a (req, res) listener, ` +
      `an object with fetch(request), or an http.Server (as the default export or module.exports, ` +
      `or a named export ${NAMED_EXPORTS.join(', ')}), or a React Router server build; see ${RECIPES}`,
  );
}

/** What else the app's module offers its worker. */
export interface AppHooks {
  /**
   * An exported `close()` (or the default export's, when that is a plain
   * object such as `{ fetch, close }`): the app's cleanup, called when its
   * worker leaves. Worker threads hear no signals: this is their way.
   */
  close?: () => unknown;
  /** The app is a fetch handler (fastresponse= decides by this when it is not given). */
  fetch?: boolean;
}

function closeExport(mod: Record<string, unknown>, exported: unknown): (() => unknown) | undefined {
  if (typeof mod.close === 'function') return mod.close as () => unknown;
  const plain = typeof exported === 'object' && exported !== null && Object.getPrototypeOf(exported) === Object.prototype;
  const close = plain ? (exported as { close?: unknown }).close : undefined;
  return typeof close === 'function' ? () => (close as () => unknown).call(exported) : undefined;
}

/** Imports a module, turning its failure into an AppLoadError that names the app's file and line. */
async function importApp(href: string, spec: string): Promise<Record<string, unknown>> {
  try {
    return (await import(href)) as Record<string, unknown>;
  } catch (error) {
    if (error instanceof AppLoadError) throw error;
    const entry = href.startsWith('file:') ? fileURLToPath(href) : undefined;
    throw new AppLoadError(`app=${spec} failed to load: ${describeLoadError(error, entry)}`);
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === 'function';
}

/** Anything handlerFor takes. */
function isApp(value: unknown): boolean {
  if (value instanceof Server || isFetchApp(value) || typeof value === 'function') return true;
  return typeof (value as { callback?: unknown } | null)?.callback === 'function';
}

/** The default export (or module.exports) when it is an app; else a named export or a React Router build. */
async function findExport(mod: Record<string, unknown>, file: string | undefined): Promise<Found> {
  let exported = 'default' in mod ? mod.default : mod;
  // CommonJS built from ESM: module.exports = { default: app }.
  const inner = (exported as { default?: unknown } | null)?.default;
  if (typeof exported === 'object' && exported !== null && inner !== undefined && !isFetchApp(exported)) {
    exported = inner;
  }
  const what = 'default' in mod ? 'the default export' : 'module.exports';
  // An async app factory's promise (NestJS: create, init, then the Express instance):
  // the worker reports ready once it is settled.
  if (isThenable(exported)) return { exported: await exported, what: `${what} (a promise, awaited)` };
  if (isApp(exported)) return { exported, what };
  return (await findNamed(mod, file, isApp)) ?? { exported, what: 'the default export' };
}

/** A directory app= names, or undefined for a module or package name. */
function directory(spec: string, cwd: string): string | undefined {
  if (!isModulePath(spec)) return undefined;
  const full = path.resolve(cwd, spec);
  return fs.statSync(full, { throwIfNoEntry: false })?.isDirectory() ? full : undefined;
}

async function findApp(spec: string, cwd: string, log: AdapterOptions['log']): Promise<Found> {
  const dir = directory(spec, cwd);
  let href = resolveModule(spec, cwd);
  let where = '';
  if (dir !== undefined) {
    const project = await wrap(spec, async () => findInDirectory(dir, spec));
    if (project.kind === 'next') {
      log.info({ app: spec }, 'app= is a built Next.js project (.next): starting next({ dir }) and waiting for prepare()');
      return { exported: await wrap(spec, () => nextListener(dir)), what: 'a Next.js project, prepared' };
    }
    href = pathToFileURL(project.file).href;
    where = ` in ${project.what}`;
  }
  // @astrojs/node's standalone entry starts its own HTTP server on import unless told not to;
  // a worker serves the handler it exports instead.
  process.env.ASTRO_NODE_AUTOSTART ??= 'disabled';
  const mod = await importApp(href, spec);
  const file = href.startsWith('file:') ? fileURLToPath(href) : undefined;
  const found = await wrap(spec, () => findExport(mod, file));
  return { exported: found.exported, what: found.what + where, module: mod };
}

/** Errors of discovery as AppLoadError, named after app=. */
async function wrap<T>(spec: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    if (error instanceof AppLoadError) throw error;
    const e = error as Error;
    const own = e.message.startsWith(`app=${spec}`) ? e.message : `app=${spec}: ${e.message}`;
    throw new AppLoadError(own);
  }
}

export async function loadApp(spec: string | undefined, options: AdapterOptions, cwd: string, hooks?: AppHooks): Promise<RequestHandler> {
  if (spec === undefined) return nodeHandler(welcome, options);
  const trap = trapListen(spec);
  let found: Found;
  try {
    found = await findApp(spec, cwd, options.log);
  } catch (error) {
    throw trap.caught ?? error;
  } finally {
    trap.release();
  }
  // The app caught the throw of its own listen() and carried on: it still expects to listen.
  if (trap.caught) throw trap.caught;
  const handler = handlerFor(found.exported, options, spec);
  if (hooks !== undefined) {
    hooks.close = closeExport(found.module ?? {}, found.exported);
    hooks.fetch = isFetchApp(found.exported);
  }
  options.log.info({ app: spec }, `app=${spec}: serving ${found.what}`);
  return handler;
}
