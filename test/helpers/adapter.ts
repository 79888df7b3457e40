// Runs an adapter over an in-memory FastCGI connection: request records in, CGI response out.

import pino from 'pino';
import type { RequestHandler } from '../../src/adapter/types.js';
import { FcgiConnection } from '../../src/protocol/fcgi/connection.js';
import { parseCgi, request, type Pairs } from './fcgi-records.js';
import { MemorySocket, settle } from './memory-socket.js';

export const silentLog = pino({ level: 'silent' });

export interface Exchange {
  status: number;
  headers: string[];
  body: Buffer;
  ended: boolean;
  socket: MemorySocket;
}

export function header(ex: Exchange, name: string): string[] {
  const prefix = `${name.toLowerCase()}:`;
  return ex.headers.filter((l) => l.toLowerCase().startsWith(prefix)).map((l) => l.slice(prefix.length).trim());
}

/** Sends one request through `handler` and waits until END_REQUEST (or `waitMs`: generous, for a busy machine). */
export async function exchange(handler: RequestHandler, params: Pairs, body: Buffer | string = '', waitMs = 30_000): Promise<Exchange> {
  const socket = new MemorySocket();
  const connection = new FcgiConnection(socket);
  connection.on('request', handler);
  const defaults: [string, string][] = [['REQUEST_METHOD', 'GET'], ['SERVER_PROTOCOL', 'HTTP/1.1']];
  const pairs = Array.isArray(params) ? [...defaults.filter(([d]) => !params.some(([n]) => n === d)), ...params] : { ...Object.fromEntries(defaults), ...params };
  socket.push(request(1, pairs, body));
  const deadline = Date.now() + waitMs;
  const ended = (): boolean => socket.records().some((r) => r.type === 3);
  while (!ended() && Date.now() < deadline) {
    await settle();
    await new Promise((r) => setTimeout(r, 2));
  }
  return { ...parseCgi(socket.stdout(1)), ended: ended(), socket };
}
