import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { trapListen } from '../../../src/adapter/listen-trap.js';

describe('listen trap', () => {
  it('refuses a fixed port or a socket path while set, naming the caller, and keeps the first refusal', () => {
    const trap = trapListen('./app.js');
    try {
      expect(() => net.createServer().listen(3999)).toThrow(/^app=\.\/app\.js calls listen\(\) itself \(port 3999, at .*listen-trap\.test\.ts:\d+:\d+\): runfcgi listens/);
      expect(() => net.createServer().listen({ path: '/tmp/x.sock' })).toThrow(/\(socket \/tmp\/x\.sock, at /);
      expect(trap.caught?.message).toMatch(/port 3999/);
      expect(trap.caught?.exitCode).toBe(4);
    } finally {
      trap.release();
    }
  });

  it('lets port 0 through (any free port collides with nothing), and every listen() once released', async () => {
    const trap = trapListen('./app.js');
    const any = net.createServer();
    try {
      await new Promise<void>((resolve) => any.listen(0, '127.0.0.1', resolve));
      expect(trap.caught).toBeUndefined();
    } finally {
      trap.release();
    }
    // Released: a fixed port (the one just held, freed again) listens as usual.
    const { port } = any.address() as net.AddressInfo;
    await new Promise((resolve) => any.close(resolve));
    const after = net.createServer();
    await new Promise<void>((resolve) => after.listen(port, '127.0.0.1', resolve));
    after.close();
  });
});
