// Catches an app that opens its own listening port while it loads: runfcgi listens for it.

import net from 'node:net';
import { AppLoadError } from '../shared/errors.js';
import { appCallSite } from './load-error.js';

type Listen = typeof net.Server.prototype.listen;

/**
 * What a listen() call would bind that every worker would fight over: a
 * fixed TCP port or a socket path. Port 0 (any free port), a handle or a file
 * descriptor collide with nothing, and libraries use them for their own ends.
 */
function fixedAddress(args: unknown[]): string | undefined {
  const [first] = args;
  if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) return Number(first) === 0 ? undefined : `port ${first}`;
  if (typeof first === 'string') return `socket ${first}`;
  if (typeof first === 'object' && first !== null) {
    const o = first as { port?: unknown; path?: unknown };
    if (typeof o.path === 'string') return `socket ${o.path}`;
    if (o.port !== undefined && Number(o.port) !== 0) return `port ${String(o.port)}`;
  }
  return undefined;
}

export interface ListenTrap {
  /** The error for the first listen() the app called while the trap was set, if it did. */
  readonly caught: AppLoadError | undefined;
  /** Puts Node's listen() back. */
  release(): void;
}

/**
 * Until release(), a listen() on a fixed port or path throws instead of
 * listening: under runfcgi one worker would listen on its own port and the
 * others crash on EADDRINUSE (issue 26). The first such call is kept, so the
 * load fails with it even when the app caught the throw.
 */
export function trapListen(spec: string): ListenTrap {
  const proto = net.Server.prototype;
  const original: Listen = proto.listen;
  const trap = { caught: undefined as AppLoadError | undefined, release: () => void (proto.listen = original) };
  proto.listen = function listen(this: net.Server, ...args: unknown[]) {
    const address = fixedAddress(args);
    if (address === undefined) return (original as (...a: unknown[]) => net.Server).apply(this, args);
    const site = appCallSite(new Error().stack ?? '');
    const error = new AppLoadError(
      `app=${spec} calls listen() itself (${address}${site ? `, at ${site.text}` : ''}): runfcgi listens and passes the requests to the app; export the app instead (export default app) and do not call listen()`,
    );
    trap.caught ??= error;
    throw error;
  } as Listen;
  return trap;
}
