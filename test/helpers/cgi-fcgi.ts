// The real FastCGI client from Debian's libfcgi-bin: params from the environment, body on stdin.

import { spawn } from 'node:child_process';
import { parseCgi } from './fcgi-records.js';
import { which } from './run.js';

export async function cgiFcgi(address: string, params: Record<string, string>, body: Buffer = Buffer.alloc(0)) {
  const child = spawn(which('cgi-fcgi')!, ['-bind', '-connect', address], {
    env: { REQUEST_METHOD: 'GET', SERVER_PROTOCOL: 'HTTP/1.1', ...params },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  child.stdout.on('data', (d: Buffer) => out.push(d));
  child.stdin.on('error', () => {});
  child.stdin.end(body);
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  return { code, ...parseCgi(Buffer.concat(out)) };
}
