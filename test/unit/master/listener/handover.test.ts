import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { HANDOVER_MS, handoverDeadline, takeOverTcp, tcpHandover } from '../../../../src/master/listener/handover.js';
import type { Logger } from '../../../../src/shared/log.js';

/** A logger that keeps its lines. */
function recorder(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const at = (level: string) => (fields: unknown, msg?: string) => void lines.push(`${level} ${typeof fields === 'string' ? fields : `${msg} ${JSON.stringify(fields)}`}`);
  return { lines, fatal: at('fatal'), error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug'), trace: at('trace') } as unknown as Logger & { lines: string[] };
}

type Handle = { fd: number; close(): void; getsockname(out: { address?: string; port?: number }): number };
const createServerHandle = (net as unknown as { _createServerHandle: (a: string, p: number, t: number) => Handle })._createServerHandle;

afterEach(() => {
  vi.restoreAllMocks();
});

describe('how long a stopping master waits for its successor', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runfcgi-handover-'));
  const pidfile = path.join(dir, 'app.pid');

  it('2 s after kill while the pidfile names it (a plain stop), and without a pidfile', () => {
    fs.writeFileSync(pidfile, `${process.pid}\n`);
    expect(handoverDeadline(1000, pidfile)).toBe(1000 + HANDOVER_MS);
    expect(handoverDeadline(1000, undefined)).toBe(1000 + HANDOVER_MS);
  });

  it('15 s once the pidfile is removed (the restart script) or names another master', () => {
    fs.rmSync(pidfile, { force: true });
    expect(handoverDeadline(1000, pidfile)).toBe(16_000);
    fs.writeFileSync(pidfile, '1\n');
    expect(handoverDeadline(1000, pidfile)).toBe(16_000);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('the TCP handover', () => {
  it.each([
    ['127.0.0.1', 4],
    ['::1', 6],
  ])('passes the listening socket on %s itself: a successor receives it, the old master learns it serves', async (address, family) => {
    const handle = createServerHandle(address, 0, family);
    const name: { port?: number } = {};
    handle.getsockname(name);
    const port = name.port!;
    const log = recorder();
    const old = tcpHandover(handle, address, port, log);
    expect(old.canHandOver).toBe(true);
    old.announceHandover();
    const uid = process.geteuid?.() ?? 0;
    const rendezvous = `/tmp/runfcgi-${uid}/tcp-${address}-${port}.sock`;
    expect(fs.statSync(rendezvous).mode & 0o777).toBe(0o600);
    expect(fs.statSync(`/tmp/runfcgi-${uid}`).mode & 0o777).toBe(0o700);

    const received = await takeOverTcp(address, port, [uid], 'any', log);
    expect(received).toBeDefined();
    const got: { address?: string; port?: number } = {};
    expect((received!.handle as Handle).getsockname(got)).toBe(0);
    expect(got).toMatchObject({ address, port });
    expect(received!.handle.fd).not.toBe(handle.fd);
    // Offered once: the path is gone as soon as a successor connected.
    expect(fs.existsSync(rendezvous)).toBe(false);

    expect(old.takenOver()).toBe(false);
    const successor = tcpHandover(received!.handle, address, port, log, received);
    successor.publish();
    await vi.waitFor(() => expect(old.takenOver()).toBe(true), { timeout: 5000 });
    old.cleanupHandover();
    handle.close();
    received!.handle.close();
    expect(log.lines.filter((l) => l.startsWith('warn'))).toEqual([]);
  });

  it('finds nothing when no master offers the port', async () => {
    expect(await takeOverTcp('127.0.0.1', 1, [process.geteuid?.() ?? 0], 'any', recorder())).toBeUndefined();
  });

  it("says so in one log line where Node's pipe internals are missing, and offers nothing", async () => {
    vi.resetModules();
    vi.spyOn(process as unknown as { binding: (name: string) => unknown }, 'binding').mockImplementation(() => {
      throw new Error('No such module: pipe_wrap');
    });
    const fresh = await import('../../../../src/master/listener/handover.js');
    const log = recorder();
    const handle = createServerHandle('127.0.0.1', 0, 4);
    const handover = fresh.tcpHandover(handle, '127.0.0.1', 1, log);
    handle.close();
    expect(handover.canHandOver).toBe(false);
    expect(log.lines).toHaveLength(1);
    expect(log.lines[0]).toMatch(/^warn restarts on TCP cannot hand the socket over: .*refused meanwhile .*No such module: pipe_wrap/);
  });
});
