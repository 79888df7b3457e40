// Turns an error from loading the app's module into a line that names the app's own file and line.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** runfcgi's own files (dist/ or src/): their frames are not where the app went wrong. */
const OWN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Local files checked for a syntax error at most: `node --check` costs a process each. */
const MAX_CHECKED = 30;

interface Frame {
  text: string;
  file: string;
}

/** The stack's frames that are the app's: not Node's internals, not runfcgi's. */
function appFrames(stack: string): Frame[] {
  const frames: Frame[] = [];
  for (const line of stack.split('\n')) {
    const m = /^\s+at (?:.*? \()?((?:file:\/\/)?\/[^():]+):(\d+):(\d+)\)?$/.exec(line);
    if (!m) continue;
    const file = m[1]!.startsWith('file://') ? fileURLToPath(m[1]!) : m[1]!;
    if (file.startsWith(OWN + path.sep)) continue;
    frames.push({ text: `${file}:${m[2]}:${m[3]}`, file });
  }
  return frames;
}

/** The first of the stack's frames in the app's own files (not a library's), else the first of the app's. */
export function appCallSite(stack: string): Frame | undefined {
  const frames = appFrames(stack);
  return frames.find((f) => !f.file.includes(`${path.sep}node_modules${path.sep}`)) ?? frames[0];
}

/**
 * Where `node --check` finds a syntax error: the entry, then the local files
 * it imports by relative path (an ES module's syntax error comes without a
 * location in its stack on Node 20; nothing is run, --check only parses).
 */
function syntaxErrorLocation(entry: string): string | undefined {
  const queue = [entry];
  const seen = new Set(queue);
  for (let i = 0; i < queue.length && i < MAX_CHECKED; i++) {
    const file = queue[i]!;
    const check = spawnSync(process.execPath, ['--check', file], { encoding: 'utf8', timeout: 10_000 });
    const where = /^(\/[^\n]*?):(\d+)\n/.exec(check.stderr ?? '');
    if (check.status !== 0 && where) return `${where[1]}:${where[2]}`;
    for (const next of relativeImports(file)) {
      if (!seen.has(next)) {
        seen.add(next);
        queue.push(next);
      }
    }
  }
  return undefined;
}

/** The files a module names with ./ or ../ in import, export ... from, import() or require(). */
function relativeImports(file: string): string[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const found: string[] = [];
  for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*)['"](\.{1,2}\/[^'"]+)['"]/g)) {
    const target = path.resolve(path.dirname(file), m[1]!);
    for (const candidate of [target, `${target}.js`, `${target}.mjs`, `${target}.cjs`, path.join(target, 'index.js')]) {
      if (fs.statSync(candidate, { throwIfNoEntry: false })?.isFile()) {
        found.push(candidate);
        break;
      }
    }
  }
  return found;
}

/**
 * The error's first line with the app's file and line, then the app's own
 * frames: `TypeError: boom (at /srv/app.js:3:7)`. A module that cannot be
 * found needs no stack; a syntax error gets its location from `node --check`.
 */
export function describeLoadError(error: unknown, entry: string | undefined): string {
  if (!(error instanceof Error)) return String(error);
  const e = error as NodeJS.ErrnoException;
  if (e.code === 'ERR_MODULE_NOT_FOUND' || e.code === 'MODULE_NOT_FOUND') return e.message.split('\n')[0]!;
  const head = `${e.name}: ${e.message.split('\n')[0]}`;
  const stack = e.stack ?? '';
  // A CommonJS syntax error's stack opens with the place: "/srv/app.js:2\n<code>\n  ^^^".
  const cjs = /^(\/[^\n]*?):(\d+)\n/.exec(stack);
  if (cjs) return `${head} (at ${cjs[1]}:${cjs[2]})`;
  const own = appCallSite(stack);
  if (own !== undefined) {
    const frames = appFrames(stack);
    const more = frames.filter((f) => f.text !== own.text).slice(0, 7).map((f) => `\n    at ${f.text}`).join('');
    return `${head} (at ${own.text})${more}`;
  }
  if (e.name === 'SyntaxError' && entry !== undefined) {
    const where = syntaxErrorLocation(entry);
    if (where !== undefined) return `${head} (at ${where})`;
  }
  return head;
}
