// Loads app=MODULE and picks the adapter its export calls for.

import { Server, type RequestListener } from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { AppLoadError } from '../errors.js';
import { isModulePath } from '../option-values.js';
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
  if (typeof value === 'object') return `an object with keys ${Object.keys(value).join(', ') || '(none)'}`;
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
      `an object with fetch(request), or an http.Server (as the default export or module.exports)`,
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
}

function closeExport(mod: Record<string, unknown>, exported: unknown): (() => unknown) | undefined {
  if (typeof mod.close === 'function') return mod.close as () => unknown;
  const plain = typeof exported === 'object' && exported !== null && Object.getPrototypeOf(exported) === Object.prototype;
  const close = plain ? (exported as { close?: unknown }).close : undefined;
  return typeof close === 'function' ? () => (close as () => unknown).call(exported) : undefined;
}

export async function loadApp(spec: string | undefined, options: AdapterOptions, cwd: string, hooks?: AppHooks): Promise<RequestHandler> {
  if (spec === undefined) return nodeHandler(welcome, options);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(resolveModule(spec, cwd))) as Record<string, unknown>;
  } catch (error) {
    // The app's own error keeps its stack (it points into the app); a missing module needs none.
    const e = error as NodeJS.ErrnoException;
    const missing = e?.code === 'ERR_MODULE_NOT_FOUND' || e?.code === 'MODULE_NOT_FOUND';
    const detail = error instanceof Error ? (missing ? e.message.split('\n')[0] : (e.stack ?? e.message)) : String(error);
    throw new AppLoadError(`app=${spec} failed to load: ${detail}`);
  }
  let exported = 'default' in mod ? mod.default : mod;
  // CommonJS built from ESM: module.exports = { default: app }.
  const inner = (exported as { default?: unknown } | null)?.default;
  if (typeof exported === 'object' && exported !== null && inner !== undefined && !isFetchApp(exported)) {
    exported = inner;
  }
  const handler = handlerFor(exported, options, spec);
  if (hooks !== undefined) hooks.close = closeExport(mod, exported);
  return handler;
}
