// Scenario 6: nginx from the recipe in examples/ (stock fastcgi_params, keepalive); spawn-fcgi;
// cgi-fcgi as a plain client is covered in core.test.ts.

import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNginxWith, type Nginx } from '../helpers/nginx.js';
import { FIXTURES, need, start, tempDir, waitForListen, type Started } from '../helpers/run.js';
import { layout, recipe } from '../helpers/servers.js';

describe.runIf(need('nginx'))('nginx from examples/nginx/mysite.conf', () => {
  let home: string;
  let runfcgi: Started;
  let nginx: Nginx;

  beforeAll(async () => {
    home = tempDir();
    layout(home, path.join(FIXTURES, 'echo-app.mjs'));
    fs.mkdirSync(path.join(home, 'public_html/static'));
    fs.writeFileSync(path.join(home, 'public_html/static/site.css'), 'p { margin: 0 }\n');
    const sock = path.join(home, 'myproject/mysite.sock');
    runfcgi = start(['app=./app.js', `socket=${sock}`, 'umask=000'], { cwd: path.join(home, 'myproject') });
    await waitForListen(sock);
    nginx = await startNginxWith(home, (port) => recipe('nginx/mysite.conf', home).replace('listen 80;', `listen 127.0.0.1:${port};`));
  });
  afterAll(async () => {
    await nginx?.stop();
    await runfcgi?.stop();
    fs.rmSync(home, { recursive: true, force: true });
  });

  it("gives the app the browser's URL although the stock params send no PATH_INFO and SCRIPT_NAME = the path", async () => {
    const r = (await (await fetch(nginx.url('/hello/world?x=1'))).json()) as Record<string, unknown>;
    expect(r).toMatchObject({ url: '/hello/world?x=1', scriptName: '/hello/world', remote: '127.0.0.1' });
    // Debian's fastcgi_params has no PATH_INFO line at all; other builds send it empty.
    expect(r.pathInfo ?? '').toBe('');
  });

  it('serves /static/ from disk without the app', async () => {
    const res = await fetch(nginx.url('/static/site.css'));
    expect(await res.text()).toBe('p { margin: 0 }\n');
  });
});
