// Installs and builds the framework fixture apps (test/fixtures/apps/<name>) once, in a cache keyed by their sources.
// Plain JavaScript: the tests (test/helpers/apps.ts) and the benchmark (scripts/bench/frameworks.mjs) share it.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const APPS = path.resolve(import.meta.dirname, '../fixtures/apps');
/** Builds live here between runs: a rerun with the same sources reuses them (CI's clean run builds each once). */
const CACHE = path.join(os.tmpdir(), 'runfcgi-apps');

/** What an install or a build in the fixture's own folder leaves there: not a source. */
const NOT_SOURCES = new Set(['node_modules', '.next', '.svelte-kit', '.react-router', '.astro', 'build', 'dist', '.output', '.nuxt']);

/** @returns {string[]} */
function files(dir, base = dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).filter((e) => !NOT_SOURCES.has(e.name)).flatMap((e) => {
    const full = path.join(dir, e.name);
    return e.isDirectory() ? files(full, base) : [path.relative(base, full)];
  }).sort();
}

/** A digest of the fixture's sources, lock file included. */
function sourceKey(source) {
  const hash = createHash('sha256');
  for (const file of files(source)) hash.update(file).update('\0').update(fs.readFileSync(path.join(source, file))).update('\0');
  return hash.digest('hex').slice(0, 16);
}

function run(command, args, cwd, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d.toString()));
    child.stderr.on('data', (d) => (out += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} in ${cwd} exited ${code}:\n${out.slice(-4000)}`))));
  });
}

/**
 * The built app `name`: `npm ci` (npm's cache first: --prefer-offline) and
 * `npm run build` in a directory of its own, once per version of its
 * sources. Slow the first time (tens of seconds to minutes): call it in
 * beforeAll with a generous timeout.
 */
export async function builtApp(name) {
  const source = path.join(APPS, name);
  const target = path.join(CACHE, `${name}-${sourceKey(source)}`);
  if (fs.existsSync(path.join(target, '.built'))) return target;
  fs.mkdirSync(CACHE, { recursive: true, mode: 0o755 });
  // Test files run in parallel: one builds, the others wait for it (a stale lock, from a
  // run that was killed, is taken over after its age says no build can still be going).
  const lock = `${target}.lock`;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch {
      if (fs.existsSync(path.join(target, '.built'))) return target;
      if (Date.now() - (fs.statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now()) > 20 * 60_000) fs.rmSync(lock, { recursive: true, force: true });
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    return await build(name, source, target);
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

async function build(name, source, target) {
  if (fs.existsSync(path.join(target, '.built'))) return target;
  const work = fs.mkdtempSync(path.join(CACHE, `${name}-building-`));
  fs.chmodSync(work, 0o755);
  fs.cpSync(source, work, { recursive: true, filter: (from) => !NOT_SOURCES.has(path.basename(from)) });
  const env = { ...process.env, NEXT_TELEMETRY_DISABLED: '1', NODE_ENV: 'production', CI: '1' };
  // devDependencies hold the build tools: NODE_ENV=production must not leave them out.
  await run('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund', '--include=dev'], work, env);
  await run('npm', ['run', 'build'], work, env);
  fs.writeFileSync(path.join(work, '.built'), new Date().toISOString());
  try {
    fs.renameSync(work, target);
  } catch {
    // Another test file built it at the same time: keep theirs.
    fs.rmSync(work, { recursive: true, force: true });
  }
  return target;
}
