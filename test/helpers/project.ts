// A project as a user deploys one: the packed package (npm pack) and its production
// dependencies in node_modules, beside the app, in a directory any user can reach. For the
// tests whose web server or workers run as www-data, who cannot enter a checkout in /root.

import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { inject } from 'vitest';
import { ROOT } from './run.js';

export interface Project {
  /** The project directory (cwd for runfcgi). */
  dir: string;
  /** The app's file in it. */
  app: string;
  /** node_modules/.bin/runfcgi, as the recipes start it. */
  bin: string;
}

/**
 * Copies `app` into `dir` (as `name`) and installs runfcgi there as `npm
 * install runfcgi` would. Every directory on the way is 0755 from here down.
 */
export function installProject(dir: string, app: string, name = 'app.js'): Project {
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  fs.cpSync(packed(), path.join(dir, 'node_modules'), { recursive: true, verbatimSymlinks: true });
  fs.copyFileSync(app, path.join(dir, name));
  fs.writeFileSync(path.join(dir, 'package.json'), '{ "type": "module", "private": true }\n');
  return { dir, app: path.join(dir, name), bin: path.join(dir, 'node_modules/.bin/runfcgi') };
}

let cached: string | undefined;

/**
 * A node_modules with the packed runfcgi and the checkout's own copies of its
 * production dependencies (no registry, no npm cache: works offline and on a
 * fresh `npm ci`). Made once per test run, shared by the test files: each
 * builds in a directory of its own and renames it into place, so a reader
 * never sees half of one.
 */
function packed(): string {
  if (cached) return cached;
  const runDir = inject('runDir');
  const done = path.join(runDir, 'node_modules');
  if (!fs.existsSync(done)) {
    const build = fs.mkdtempSync(path.join(runDir, 'build-'));
    fs.chmodSync(build, 0o755);
    pack(build);
    try {
      fs.renameSync(path.join(build, 'node_modules'), done);
    } catch (error) {
      // Another test file got there first.
      if (!fs.existsSync(done)) throw error;
    }
    fs.rmSync(build, { recursive: true, force: true });
  }
  return (cached = done);
}

/** npm pack, unpacked into BUILD/node_modules/runfcgi, with the dependencies beside it. */
function pack(build: string): void {
  if (!fs.existsSync(path.join(ROOT, 'dist/cli/main.js'))) throw new Error('dist/ is missing: run `npm run build` (npm test does) before the tests');
  // --ignore-scripts: dist/ is built already (npm test builds first), and prepare would rebuild it.
  const [info] = JSON.parse(execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', build], { cwd: ROOT, encoding: 'utf8' })) as { filename: string }[];
  const modules = path.join(build, 'node_modules');
  const pkg = path.join(modules, 'runfcgi');
  fs.mkdirSync(pkg, { recursive: true });
  execFileSync('tar', ['-xzf', path.join(build, info!.filename), '-C', pkg, '--strip-components=1', '--no-same-owner']);
  // npm ls names the production dependencies as installed: the lockfile's versions.
  const ls = spawnSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: ROOT, encoding: 'utf8' });
  const from = path.join(ROOT, 'node_modules');
  const deps = ls.stdout.split('\n').filter((p) => p.startsWith(from + path.sep));
  if (deps.length === 0) throw new Error(`npm ls found no production dependencies in ${from}: run npm ci\n${ls.stderr}`);
  for (const dep of deps) fs.cpSync(dep, path.join(modules, path.relative(from, dep)), { recursive: true });
  fs.mkdirSync(path.join(modules, '.bin'));
  fs.symlinkSync('../runfcgi/bin/runfcgi', path.join(modules, '.bin/runfcgi'));
  for (const d of [build, modules, pkg]) fs.chmodSync(d, 0o755);
}

/**
 * Whether the tests that run Node as www-data can: the Node running the
 * tests must be one www-data may execute (not one under a 0700 home, as nvm
 * installs it). Only matters as root; in CI a failure, never a skip.
 */
export function needNodeForWwwData(): boolean {
  if (process.getuid?.() !== 0) return true;
  const r = spawnSync(process.execPath, ['-e', ''], { uid: 33, gid: 33, stdio: 'ignore' });
  if (r.status === 0) return true;
  const why = `www-data cannot run ${process.execPath} (a directory above it is closed to other users)`;
  if (process.env.CI) throw new Error(`${why}, and CI must not skip: install Node where www-data can run it`);
  console.warn(`skipping tests that run Node as www-data: ${why}; run the tests with a Node installed system-wide`);
  return false;
}
