import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GatewayRequest, RequestHandler } from '../../../src/adapter/types.js';
import { cookieValue } from '../../../src/worker/sticky/cookie.js';
import { listenPrivately, Router } from '../../../src/worker/sticky/router.js';
import { serve, type Serving } from '../../../src/worker/serve.js';
import { exchange, header, silentLog } from '../../helpers/adapter.js';
import { tempDir } from '../../helpers/run.js';

/** Echoes who answered and the body it got, once the body is complete. */
function echo(who: string): RequestHandler {
  return (request: GatewayRequest) => {
    const chunks: Buffer[] = [];
    request.attach({
      stdin(chunk) {
        if (chunk !== null) {
          chunks.push(chunk);
          return;
        }
        request.write(`Status: 200 OK\r\nContent-Type: text/plain\r\n\r\n${who}:${Buffer.concat(chunks).toString()}`, 'latin1');
        request.end(0);
      },
      abort() {},
      drain() {},
    });
  };
}

describe('the route cookie', () => {
  it('is read whole-named from a Cookie header, first of its name, anywhere in it', () => {
    expect(cookieValue(undefined, 'r')).toBeUndefined();
    expect(cookieValue('r=a.1', 'r')).toBe('a.1');
    expect(cookieValue('x=1; r=a.2; y=3', 'r')).toBe('a.2');
    expect(cookieValue('xr=1; r=a.3', 'r')).toBe('a.3');
    expect(cookieValue('r=a.4;r=a.5', 'r')).toBe('a.4');
    expect(cookieValue('rr=1', 'r')).toBeUndefined();
    expect(cookieValue('r', 'r')).toBeUndefined();
  });
});

describe('a worker with sticky=true', () => {
  let dir: string;
  const where = () => ({ dir, mark: 'abcd0123' });
  let owner: { server: net.Server; serving: Serving };
  beforeAll(async () => {
    dir = tempDir();
    // The owner, worker 2: its private socket leads to its server, as in a worker.
    const server = net.createServer({ allowHalfOpen: true });
    const serving = serve(server, echo('owner'), silentLog, {});
    await listenPrivately(server, where(), 2);
    owner = { server, serving };
  });
  afterAll(async () => {
    await owner.serving.stop(0);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Worker 1's side: the router first, the app when it keeps the request. */
  function worker1(members: number[]) {
    const router = new Router(where(), 1, 'runfcgi_route', 'fcgi');
    router.setMembers(members);
    let servedHere = 0;
    const here = (request: GatewayRequest): void => {
      servedHere++;
      echo('worker1')(request);
    };
    const handler: RequestHandler = (request) => {
      if (!router.route(request, here)) here(request);
    };
    return { router, handler, servedHere: () => servedHere };
  }

  const post = (cookie: string | undefined, body: string) => ({
    REQUEST_METHOD: 'POST', CONTENT_LENGTH: String(body.length), ...(cookie === undefined ? {} : { HTTP_COOKIE: cookie }),
  });

  it('serves a client without the cookie and gives it one naming itself', async () => {
    const w = worker1([1, 2]);
    const got = await exchange(w.handler, post(undefined, 'hi'), 'hi');
    expect(got.body.toString()).toBe('worker1:hi');
    expect(header(got, 'set-cookie')).toEqual(['runfcgi_route=abcd0123.1; Path=/; HttpOnly; SameSite=Lax']);
    expect(got.status).toBe(200);
  });

  it('serves its own clients without a new cookie', async () => {
    const w = worker1([1, 2]);
    const got = await exchange(w.handler, post('a=b; runfcgi_route=abcd0123.1', 'own'), 'own');
    expect(got.body.toString()).toBe('worker1:own');
    expect(header(got, 'set-cookie')).toEqual([]);
  });

  it("hands another live worker's client to it, body and all, and counts nothing itself", async () => {
    const w = worker1([1, 2]);
    const body = 'x'.repeat(300_000);
    const got = await exchange(w.handler, post('runfcgi_route=abcd0123.2', body), body);
    expect(got.body.toString()).toBe(`owner:${body}`);
    expect(header(got, 'set-cookie')).toEqual([]);
    expect(w.servedHere()).toBe(0);
    expect(w.router.forwarding).toBe(0);
  });

  it('hands one request after another over one kept-alive connection', async () => {
    const w = worker1([1, 2]);
    const before = owner.serving.accepted;
    const connections = owner.serving.connections;
    for (let i = 0; i < 3; i++) {
      const got = await exchange(w.handler, post('runfcgi_route=abcd0123.2', `n${i}`), `n${i}`);
      expect(got.body.toString()).toBe(`owner:n${i}`);
    }
    expect(owner.serving.accepted - before).toBe(3);
    expect(owner.serving.connections).toBe(connections + 1);
  });

  it('serves a client whose worker is gone, with its body, and moves it here with a new cookie', async () => {
    // Worker 3 is still listed (the master has not said yet), but its socket is gone.
    const w = worker1([1, 2, 3]);
    const got = await exchange(w.handler, post('runfcgi_route=abcd0123.3', 'moved'), 'moved');
    expect(got.body.toString()).toBe('worker1:moved');
    expect(header(got, 'set-cookie')).toEqual(['runfcgi_route=abcd0123.1; Path=/; HttpOnly; SameSite=Lax']);
    expect(w.servedHere()).toBe(1);
  });

  it('treats a cookie of another master (or made up) as none', async () => {
    const w = worker1([1, 2]);
    const got = await exchange(w.handler, post('runfcgi_route=ffffffff.2', ''), '');
    expect(got.body.toString()).toBe('worker1:');
    expect(header(got, 'set-cookie')).toHaveLength(1);
  });

  it('closes its private socket with its public server, so that forwarders serve in its stead', async () => {
    const d = tempDir();
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(path.join(d, 'public.sock'), r));
    await listenPrivately(server, { dir: d, mark: 'm' }, 7);
    const reach = () => new Promise<boolean>((resolve) => {
      const s = net.connect(path.join(d, '7.sock'));
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    expect(await reach()).toBe(true);
    server.close();
    expect(await reach()).toBe(false);
    fs.rmSync(d, { recursive: true, force: true });
  });
});
