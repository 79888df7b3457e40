// Real containers with podman: the base image .ci/container-base builds, the recipes' image, commands in a pod.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { installProject } from './project.js';
import { EXAMPLES } from './servers.js';
import { which } from './run.js';

/** The base image (Debian minbase + nginx-light + Node), or why the container tests cannot run. */
function baseImage(): string | { why: string } {
  if (process.env.RUNFCGI_CONTAINER_TESTS === 'ran') return { why: 'they ran once in this CI run already (RUNFCGI_CONTAINER_TESTS=ran): the image carries its own Node' };
  if (which('podman') === undefined) return { why: 'podman is not installed (.ci/run installs it)' };
  if (process.getuid?.() !== 0) return { why: 'rootful podman needs root here' };
  const given = process.env.RUNFCGI_CONTAINER_IMAGE;
  const images = spawnSync('podman', ['images', '--format', '{{.Repository}}:{{.Tag}}'], { encoding: 'utf8', timeout: 120_000 });
  if (images.status !== 0) return { why: `podman cannot list images: ${images.stderr.trim()}` };
  const found = images.stdout.split('\n').filter((i) => i.startsWith('localhost/runfcgi-ci-base:'));
  const image = given ?? found[0];
  if (image === undefined || !images.stdout.split('\n').includes(image)) return { why: 'the base image is missing: run .ci/container-base (as root) once; it is cached after' };
  return image;
}

let cached: string | { why: string } | undefined;

/**
 * The base image when the container tests can run. Locally a missing part
 * skips them with the reason; in CI (CI=true) it is a failure, except
 * after they ran once (RUNFCGI_CONTAINER_TESTS=ran, set by .ci/run).
 */
export function needContainers(): string | undefined {
  cached ??= baseImage();
  if (typeof cached === 'string') return cached;
  if (process.env.CI && process.env.RUNFCGI_CONTAINER_TESTS !== 'ran') throw new Error(`container tests cannot run: ${cached.why}`);
  console.warn(`skipping the container tests: ${cached.why}`);
  return undefined;
}

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs podman with `args` to its end (bounded by `timeoutMs`). */
export function podman(args: string[], timeoutMs = 300_000): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn('podman', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** podman, which must succeed: its stderr in the error otherwise. */
export async function podmanOk(args: string[], timeoutMs?: number): Promise<string> {
  const r = await podman(args, timeoutMs);
  if (r.code !== 0) throw new Error(`podman ${args.join(' ')} failed (${r.code}):\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** What container `name` wrote: podman logs gives its stdout on stdout and its stderr on stderr. */
export async function logsOf(name: string): Promise<string> {
  const r = await podman(['logs', name]);
  if (r.code !== 0) throw new Error(`podman logs ${name} failed (${r.code}):\n${r.stderr}`);
  return r.stdout + r.stderr;
}

/**
 * Builds examples/containers/Containerfile as its comment says (in a project
 * whose node_modules holds runfcgi), on `base` instead of the official Node
 * image: no registry here. `app`: the project's app.js.
 */
export async function buildAppImage(dir: string, base: string, app: string, tag: string): Promise<void> {
  const project = installProject(path.join(dir, 'project'), app);
  fs.copyFileSync(path.join(EXAMPLES, 'containers/Containerfile'), path.join(project.dir, 'Containerfile'));
  await podmanOk(['build', '--build-arg', `NODE_IMAGE=${base}`, '-t', tag, '-f', 'Containerfile', project.dir], 600_000);
}

/** A small HTTP client run with node inside the pod's network: prints the status, then the body as it comes. */
export const HTTP_CLIENT = `
const http = require('node:http');
const req = http.get('http://127.0.0.1:8080' + process.argv[1], (res) => {
  process.stdout.write(res.statusCode + '\\n');
  res.on('data', (d) => process.stdout.write(d));
});
req.on('error', (e) => { process.stdout.write('error ' + e.code + '\\n'); process.exitCode = 1; });
`;

/** The processes in container `name` whose state is Z (zombies), by their /proc status. */
export async function zombies(name: string): Promise<number> {
  const out = await podmanOk(['exec', name, 'sh', '-c', 'grep -l "^State:[[:space:]]*Z" /proc/[0-9]*/status 2>/dev/null | wc -l']);
  return Number(out.trim());
}
