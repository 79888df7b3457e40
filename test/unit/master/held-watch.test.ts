import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { HeldWatch, type ReadableHandle } from '../../../src/master/held-watch.js';
import { ipcPipes } from '../../../src/shared/uv-pipes.js';
import { Relay } from '../../../src/master/relay.js';
import type { PassedHandle, RuntimeWorker } from '../../../src/master/runtime/types.js';
import { newSlot } from '../../../src/master/slot.js';
import { createLogger } from '../../../src/shared/log.js';
import { waitFor } from '../../helpers/load.js';

const log = createLogger({}, 'silent');
const ipc = ipcPipes();
if (typeof ipc === 'string') throw new Error(ipc);
const decode = ipc.readBytes;

const servers: net.Server[] = [];
const clients: net.Socket[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.destroy();
  for (const s of servers.splice(0)) s.close();
});

/**
 * A loopback connection: the client's socket, and the server's end as a bare
 * libuv handle, never read by Node (as the master gets one from a worker).
 */
async function pair(): Promise<{ client: net.Socket; handle: ReadableHandle }> {
  const server = net.createServer({ pauseOnConnect: true });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  clients.push(client);
  const socket = await accepted;
  const s = socket as unknown as { _handle: ReadableHandle | null };
  const handle = s._handle!;
  // The socket object lets go: the handle is ours alone.
  s._handle = null;
  return { client, handle };
}

function counter() {
  const seen = { bytes: 0, gone: 0 };
  return { seen, events: { bytes: () => seen.bytes++, gone: () => seen.gone++ } };
}

describe('a kept-alive connection held while the pool sleeps', () => {
  it('keeps what the web server writes, and says so once however many writes come', async () => {
    const { client, handle } = await pair();
    const { seen, events } = counter();
    const watch = new HeldWatch(handle, decode, events);
    client.write('first ');
    await waitFor(() => watch.read === 6, 10_000, 'the first write read');
    client.write('second');
    await waitFor(() => watch.read === 12, 10_000, 'the second write read');
    expect(seen).toEqual({ bytes: 1, gone: 0 });
    expect(watch.end().toString()).toBe('first second');
    // The connection stays open for the worker: what comes next is there to read.
    const socket = new net.Socket({ handle, readable: true, writable: true } as net.SocketConstructorOpts);
    const next = new Promise<string>((r) => socket.once('data', (d: Buffer) => r(d.toString())));
    client.write('third');
    expect(await next).toBe('third');
    socket.destroy();
  });

  it('a connection the web server closes is closed and forgotten', async () => {
    const { client, handle } = await pair();
    const { seen, events } = counter();
    let closed = 0;
    const close = handle.close.bind(handle);
    handle.close = () => {
      closed++;
      close();
    };
    new HeldWatch(handle, decode, events);
    client.end();
    await waitFor(() => seen.gone === 1, 10_000, 'the close noticed');
    expect(seen.bytes).toBe(0);
    expect(closed).toBe(1);
  });

  it('stops reading at its limit: the rest waits in the kernel, not in the master', () => {
    let stops = 0;
    const handle: ReadableHandle = { onread: () => {}, readStart: () => 0, readStop: () => ++stops, close: () => {} };
    const { seen, events } = counter();
    const watch = new HeldWatch(handle, (b) => (b === undefined ? undefined : Buffer.from(b)), events, 10);
    const onread = handle.onread;
    onread(new TextEncoder().encode('abcdef').buffer);
    onread(new TextEncoder().encode('ghijkl').buffer);
    // Anything libuv had in hand already is not kept past the limit's read.
    onread(new TextEncoder().encode('mnop').buffer);
    expect(stops).toBe(1);
    expect(watch.read).toBe(12);
    expect(seen).toEqual({ bytes: 1, gone: 0 });
    expect(watch.end().toString()).toBe('abcdefghijkl');
  });
});

describe('the relay while the pool sleeps', () => {
  it('the first bytes on a held connection wake the pool; the worker gets them after what the leaving worker had read', async () => {
    const relay = new Relay(log);
    let woken = 0;
    expect(relay.sleep(() => woken++)).toBe(true);
    const { client, handle } = await pair();
    relay.take(handle, Buffer.from('left by the worker|').toString('base64'), []);
    // One small write on loopback: one read brings it whole, and wakes the pool.
    client.write('new request');
    await waitFor(() => woken === 1, 10_000, 'the pool woken');
    const passed: { handle: PassedHandle; rest: string }[] = [];
    const worker = { pass: (h: PassedHandle, rest: string) => passed.push({ handle: h, rest }) } as unknown as RuntimeWorker;
    const slot = newSlot(1, worker);
    slot.state = 'ready';
    relay.place([slot]);
    expect(passed.map((p) => Buffer.from(p.rest, 'base64').toString())).toEqual(['left by the worker|new request']);
    expect(passed[0]!.handle).toBe(handle);
    handle.close();
  });

  it('a held connection the web server closes is not passed on', async () => {
    const relay = new Relay(log);
    relay.sleep(() => {});
    const { client, handle } = await pair();
    let closed = false;
    const close = handle.close.bind(handle);
    handle.close = () => {
      closed = true;
      close();
    };
    relay.take(handle, '', []);
    client.end();
    await waitFor(() => closed, 10_000, 'the held connection closed');
    const passed: string[] = [];
    const slot = newSlot(1, { pass: (_h: PassedHandle, rest: string) => passed.push(rest) } as unknown as RuntimeWorker);
    slot.state = 'ready';
    relay.place([slot]);
    expect(passed).toEqual([]);
  });
});
