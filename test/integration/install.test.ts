// Installs as a user installs (issue 26): npm pack, a new project in a directory closed to others,
// npm install of the .tgz with no warning, npx runfcgi help, then the README's quick start behind
// nginx, as root and with user=www-data. Also: examples/ installs as it stands.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNginxWith } from '../helpers/nginx.js';
import { readPid, running } from '../helpers/processes.js';
import { needNodeForWwwData } from '../helpers/project.js';
import { EXAMPLES } from '../helpers/servers.js';
import { need, ROOT } from '../helpers/run.js';

const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const closed: string[] = [];
const masters: number[] = [];

/** A directory only its owner may enter (mode 0700), as a home directory is. */
function closedDir(prefix: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(d, 0o700);
  closed.push(d);
  return d;
}

function sh(command: string, args: string[], cwd: string): { code: number | null; out: string; err: string } {
  // npm's own variables from the npm running the tests would steer the npm the test runs.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_')));
  const r = spawnSync(command, args, { cwd, encoding: 'utf8', timeout: 300_000, env });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** The README's command that starts the quick start's server, as its words. */
function quickStartWords(): string[] {
  const line = README.split('\n').find((l) => l.startsWith('npx runfcgi app=./app.js socket=./mysite.sock'));
  if (line === undefined) throw new Error("README.md has no quick start line 'npx runfcgi app=./app.js socket=./mysite.sock ...'");
  return line.replace(/\s+#.*$/, '').split(/\s+/).slice(1);
}

let tarball: string;

beforeAll(() => {
  // From the checkout as it is: dist/ is built (npm test builds first), so no prepack build here.
  const where = closedDir('runfcgi-pack-');
  const r = sh('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', where], ROOT);
  expect(r.code, r.err).toBe(0);
  tarball = path.join(where, (JSON.parse(r.out) as { filename: string }[])[0]!.filename);
}, 300_000);

afterAll(() => {
  for (const pid of masters) if (running(pid)) process.kill(pid, 'SIGQUIT');
  for (const d of closed) fs.rmSync(d, { recursive: true, force: true });
});

/** npm init, then npm install of the .tgz in `dir`, as the README says. */
function newProject(dir: string): void {
  expect(sh('npm', ['init', '-y'], dir).code).toBe(0);
  expect(sh('npm', ['pkg', 'set', 'type=module'], dir).code).toBe(0);
  const install = sh('npm', ['install', '--prefer-offline', tarball], dir);
  expect(install.code, install.err).toBe(0);
  // Not one "npm warn" line: no install script, no engine mismatch, nothing deprecated.
  expect(install.err).toBe('');
  fs.copyFileSync(path.join(EXAMPLES, 'app.js'), path.join(dir, 'app.js'));
}

/** The quick start: the README's start command, nginx from examples/nginx/mysite.conf, one request. */
async function quickStart(project: string, extra: string[]): Promise<{ body: string; workerUsers: number[] }> {
  const started = sh('npx', [...quickStartWords(), ...extra], project);
  expect(started.err).toBe('');
  expect(started.code).toBe(0);
  const master = readPid(path.join(project, 'mysite.pid'));
  masters.push(master);
  const nginx = await startNginxWith(project, (port) =>
    fs.readFileSync(path.join(EXAMPLES, 'nginx/mysite.conf'), 'utf8').replaceAll('/home/user/myproject', project).replace('listen 80;', `listen 127.0.0.1:${port};`),
  );
  try {
    const body = await (await fetch(nginx.url('/hello'))).text();
    const workers = spawnSync('pgrep', ['-P', String(master)], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean);
    const workerUsers = workers.map((pid) => fs.statSync(`/proc/${pid}`).uid);
    return { body, workerUsers };
  } finally {
    await nginx.stop();
    const stop = sh('npx', ['runfcgi', 'stop', 'pidfile=./mysite.pid'], project);
    expect(stop.code, stop.err).toBe(0);
  }
}

describe('installing the packed package into a new project', () => {
  it('npm install prints no warning, and npx runfcgi help works, in a directory closed to others', () => {
    const project = closedDir('runfcgi-project-');
    newProject(project);
    const help = sh('npx', ['runfcgi', 'help'], project);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/^Usage: runfcgi \[app=MODULE\] \[KEY=VALUE \.\.\.\]/);
  }, 300_000);

  describe.runIf(need('nginx'))("the README's quick start behind nginx", () => {
    it('as root, or as the user running the tests, in a directory closed to others', async () => {
      const project = closedDir('runfcgi-qs-');
      newProject(project);
      const { body, workerUsers } = await quickStart(project, []);
      expect(body).toBe('Hello from runfcgi: GET /hello\n');
      expect(workerUsers.every((uid) => uid === process.getuid?.())).toBe(true);
    }, 300_000);

    it.runIf(process.getuid?.() === 0 && needNodeForWwwData())('as root with user=www-data: the workers run as www-data, the project closed to all others', async () => {
      const project = closedDir('runfcgi-www-');
      fs.chownSync(project, 33, 33);
      newProject(project);
      const { body, workerUsers } = await quickStart(project, ['user=www-data']);
      expect(body).toBe('Hello from runfcgi: GET /hello\n');
      expect(workerUsers.length).toBeGreaterThan(0);
      expect(workerUsers.every((uid) => uid === 33)).toBe(true);
    }, 300_000);
  });
});

describe('examples/', () => {
  it("installs as it stands in a checkout (the checkout's runfcgi), with no warning", () => {
    const modules = path.join(EXAMPLES, 'node_modules');
    try {
      const install = sh('npm', ['install', '--no-package-lock', '--prefer-offline'], EXAMPLES);
      expect(install.code, install.err).toBe(0);
      expect(install.err).toBe('');
      const help = sh(path.join(modules, '.bin/runfcgi'), ['help'], EXAMPLES);
      expect(help.code).toBe(0);
      expect(help.out).toMatch(/^Usage: runfcgi/);
    } finally {
      fs.rmSync(modules, { recursive: true, force: true });
    }
  }, 300_000);
});
