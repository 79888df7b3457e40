// The container recipes run as written with real podman: the Containerfile's image, and the Kubernetes pod (nginx + runfcgi) with `podman kube play`.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/load.js';
import { HTTP_CLIENT, buildAppImage, logsOf, needContainers, podman, podmanOk, zombies } from '../helpers/podman.js';
import { EXAMPLES } from '../helpers/servers.js';
import { FIXTURES, freePort, need, tempDir } from '../helpers/run.js';

const base = needContainers();
// The names the recipes use: the manifest's image, and the pod podman makes of its Deployment.
const IMAGE = 'localhost/myapp:latest';
const POD = 'myapp-pod-0';

/** The pod manifest as written, but for nginx's image: the base image (Debian's nginx-light), no registry here. */
function podManifest(dir: string, nginxImage: string): string {
  const text = fs.readFileSync(path.join(EXAMPLES, 'kubernetes/pod.yaml'), 'utf8');
  const file = path.join(dir, 'pod.yaml');
  fs.writeFileSync(file, text.replace(/image: docker\.io\/nginxinc\/nginx-unprivileged:\S+/, `image: ${nginxImage}`));
  return file;
}

/** A GET through nginx, from a client container in the pod's network namespace; resolves with its output. */
function throughNginx(uri: string, onOutput: (text: string) => void = () => {}): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn('podman', ['run', '--rm', '--pod', POD, base!, 'node', '-e', HTTP_CLIENT, uri], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      onOutput(out);
    });
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('close', () => resolve(out));
  });
}

/** podman-compose in `project` (its directory names the project); must succeed. */
async function podmanCompose(project: string, args: string[]): Promise<void> {
  const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
    const child = spawn('podman-compose', args, { cwd: project, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('close', (code) => resolve({ code, out }));
  });
  if (r.code !== 0) throw new Error(`podman-compose ${args.join(' ')} failed (${r.code}):\n${r.out}`);
}

describe.runIf(base !== undefined)('containers (podman)', () => {
  let dir: string;

  beforeAll(async () => {
    dir = tempDir();
    // Left over from an interrupted run: the names are the recipe's.
    await podman(['pod', 'rm', '-f', POD]);
    await buildAppImage(dir, base!, path.join(FIXTURES, 'control-app.mjs'), IMAGE);
  }, 900_000);

  afterAll(async () => {
    await podman(['pod', 'rm', '-f', '-t', '0', POD]);
    // The volume podman kube play made of the ConfigMap.
    await podman(['volume', 'rm', '-f', 'myapp-nginx']);
    for (const name of ['runfcgi-test-init', 'runfcgi-test-pid1']) await podman(['rm', '-f', '-t', '0', name]);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  }, 300_000);

  it('the Kubernetes manifest\'s nginx.conf is examples/containers/nginx.conf', () => {
    const manifest = fs.readFileSync(path.join(EXAMPLES, 'kubernetes/pod.yaml'), 'utf8');
    const embedded = /nginx\.conf: \|\n((?: {4}.*\n|\n)+)---/.exec(manifest)![1]!.replace(/^ {4}/gm, '');
    expect(embedded).toBe(fs.readFileSync(path.join(EXAMPLES, 'containers/nginx.conf'), 'utf8'));
  });

  it('podman kube play of the pod manifest serves through nginx over the shared socket; runfcgi ping answers; podman stop answers the request in flight and exits 0', { timeout: 600_000 }, async () => {
    await podmanOk(['kube', 'play', podManifest(dir, base!)]);
    // Bounded: the pod boots on a busy machine; every try is a fresh client container.
    await waitFor(async () => (await throughNginx('/ping')) === '200\npong\n', 180_000, 'nginx in the pod answering /ping from runfcgi');
    expect(await throughNginx('/')).toBe('200\nhello\n');
    const probe = await podman(['exec', `${POD}-app`, '/app/node_modules/.bin/runfcgi', 'ping', 'socket=/run/app/app.sock']);
    expect(probe).toMatchObject({ code: 0, stdout: 'pong\n' });
    // fsGroup + socketmode=0660: the socket is the pod group's, not the world's.
    const mode = await podmanOk(['exec', `${POD}-app`, 'stat', '-c', '%a %g', '/run/app/app.sock']);
    expect(mode.trim()).toBe('660 2000');

    let reached!: () => void;
    const inApp = new Promise<void>((r) => (reached = r));
    const answer = throughNginx('/slow-stream?ms=3000', (out) => out.includes('started') && reached());
    await inApp;
    await podmanOk(['stop', '-t', '60', `${POD}-app`]);
    expect(await answer).toBe('200\nstarted\nslow 3000\n');
    expect((await podmanOk(['inspect', '--format', '{{.State.ExitCode}}', `${POD}-app`])).trim()).toBe('0');

    // The log: JSON lines, one stream; it says where it runs and that orphans are not reaped.
    const logs = await logsOf(`${POD}-app`);
    const records = logs.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const messages = records.map((r) => String(r.msg));
    expect(messages).toContain('runfcgi is PID 1 (the main process of a container): SIGTERM stops without waiting for a successor master');
    expect(messages.some((m) => m.startsWith('running as PID 1: processes the app leaves behind (orphans) are not reaped'))).toBe(true);
    expect(messages).not.toContain('stopping gracefully once a successor takes the socket over, or soon');
    expect(messages.at(-1)).toBe('stopped');
  });

  it.runIf(need('podman-compose'))('podman-compose up of the compose file serves through nginx; the healthcheck passes; runfcgi knows it runs under the init; a stop exits 0', { timeout: 600_000 }, async () => {
    const project = path.join(dir, `compose${process.pid}`);
    fs.mkdirSync(project);
    const port = await freePort();
    // As written, but for nginx's image (no registry here) and the host port (a free one).
    const compose = fs.readFileSync(path.join(EXAMPLES, 'containers/compose.yaml'), 'utf8')
      .replace(/image: docker\.io\/nginxinc\/nginx-unprivileged:\S+/, `image: ${base!}`)
      .replace('"127.0.0.1:8080:8080"', `"127.0.0.1:${port}:8080"`);
    fs.writeFileSync(path.join(project, 'compose.yaml'), compose);
    fs.copyFileSync(path.join(EXAMPLES, 'containers/nginx.conf'), path.join(project, 'nginx.conf'));
    const app = `${path.basename(project)}_app_1`;
    try {
      // The image the Containerfile made (beforeAll): compose finds it by its name.
      await podmanCompose(project, ['up', '-d']);
      await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/ping`).then((r) => r.text(), () => '')) === 'pong\n', 180_000, 'nginx answering /ping from runfcgi');
      expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe('hello\n');
      expect((await podman(['healthcheck', 'run', app])).code).toBe(0);
      const logs = await logsOf(app);
      expect(logs).toContain('runfcgi is the main process of a container (the child of podman-init, PID 1)');
      expect(logs).not.toContain('not reaped');
      await podmanOk(['stop', '-t', '60', app]);
      expect((await podmanOk(['inspect', '--format', '{{.State.ExitCode}}', app])).trim()).toBe('0');
    } finally {
      await podmanCompose(project, ['down', '-v']);
      // podman-compose 1.0.3 leaves the network it made.
      await podman(['network', 'rm', '-f', `${path.basename(project)}_default`]);
    }
  });

  /** Starts the image as `name`, `init` or not, sends three requests that leave orphans; resolves with the zombie count once the orphans have ended. */
  async function orphansLeft(name: string, init: boolean): Promise<number> {
    await podmanOk(['run', '-d', '--name', name, ...(init ? ['--init'] : []), IMAGE, 'app=/app/app.js', 'socket=/run/app/app.sock', 'daemonize=false', 'minspare=1', 'maxspare=1']);
    const ask = ['exec', name, '/app/node_modules/.bin/runfcgi', 'ping', 'socket=/run/app/app.sock', 'path=/orphan'];
    await waitFor(async () => (await podman(ask)).code === 0, 180_000, 'the container serving');
    for (let i = 0; i < 2; i++) await podmanOk(ask);
    // Each orphan sleeps 0.2 s; then it is a zombie, unless an init reaps it.
    await waitFor(async () => (await podmanOk(['exec', name, 'sh', '-c', 'grep -l "^Name:[[:space:]]*sleep" /proc/[0-9]*/status 2>/dev/null | xargs -r grep -L "^State:[[:space:]]*Z" | wc -l'])).trim() === '0', 60_000, 'the orphans to end');
    const count = await zombies(name);
    await podmanOk(['stop', '-t', '60', name]);
    return count;
  }

  it('with --init (catatonit), no zombie is left by an app whose helpers leave orphans', async () => {
    expect(await orphansLeft('runfcgi-test-init', true)).toBe(0);
  });

  it('as PID 1 without --init, the same orphans stay as zombies (what the log line warns of)', async () => {
    expect(await orphansLeft('runfcgi-test-pid1', false)).toBe(3);
  });
});
