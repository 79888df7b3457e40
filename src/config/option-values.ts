// What each option value may be: the parsers the options table uses. Each returns the value or
// throws Invalid with what the option accepts.

import net from 'node:net';
import path from 'node:path';

/** Thrown by parsers: says what the option accepts. */
export class Invalid extends Error {}

export function oneOf<T extends string>(aliases: Record<string, T>) {
  return (text: string): T => {
    // Own keys only: `constructor` or `__proto__` is not a value.
    const key = text.toLowerCase();
    if (!Object.hasOwn(aliases, key)) throw new Invalid(`expected ${Object.keys(aliases).join(', ')}`);
    return aliases[key]!;
  };
}

export function integer(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (text: string): number => {
    if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
      throw new Invalid(max === Number.MAX_SAFE_INTEGER ? `expected a whole number, ${min} or more` : `expected a whole number from ${min} to ${max}`);
    }
    return Number(text);
  };
}

const BOOLEANS: Record<string, boolean> = { true: true, false: false, yes: true, no: false, t: true, f: false, '1': true, '0': false, on: true, off: false };

export function boolean(text: string): boolean {
  const key = text.toLowerCase();
  if (!Object.hasOwn(BOOLEANS, key)) throw new Invalid('expected true or false (also yes/no, t/f, 1/0)');
  return BOOLEANS[key]!;
}

export function filePath(text: string, cwd: string): string {
  if (text === '') throw new Invalid('expected a file path');
  return path.resolve(cwd, text);
}

export function host(text: string): string {
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  if (net.isIP(bare) === 0 && !/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(bare)) {
    throw new Invalid('expected an IPv4 or IPv6 address or a host name (127.0.0.1, ::1, localhost)');
  }
  return bare;
}

/** sockaddr_un holds 108 bytes with the terminating NUL. */
const MAX_SOCKET_PATH = 107;

export function socketPath(text: string, cwd: string): string {
  const resolved = filePath(text, cwd);
  if (Buffer.byteLength(resolved) > MAX_SOCKET_PATH) {
    throw new Invalid(`expected a path of at most ${MAX_SOCKET_PATH} bytes (UNIX socket limit); this one resolves to ${Buffer.byteLength(resolved)}`);
  }
  return resolved;
}

/** app=./app.js, /srv/app.mjs, app.js: a file; anything else names a package. */
export function isModulePath(spec: string): boolean {
  return spec.startsWith('.') || path.isAbsolute(spec) || /\.(c|m)?[jt]sx?$/.test(spec);
}

/** A file path is resolved now (the daemon changes directory); a package name stays a name. */
export function appModule(text: string, cwd: string): string {
  if (text === '') throw new Invalid('expected a module path or package name');
  return isModulePath(text) ? path.resolve(cwd, text) : text;
}

/** A URL path such as /status: what the web server sends as REQUEST_URI. */
export function urlPath(text: string): string {
  if (!/^\/[\x21-\x7e]*$/.test(text)) throw new Invalid('expected a URL path starting with /, such as /status');
  return text;
}

/** A user or group: a name, or a numeric id. */
export function account(text: string): string {
  if (!/^[A-Za-z_][\w.-]*\$?$|^\d+$/.test(text)) throw new Invalid('expected a user or group name, or a numeric id');
  return text;
}

export function octalMode(text: string): number {
  if (!/^0?[0-7]{3}$/.test(text)) throw new Invalid('expected an octal file mode such as 0660 or 0600');
  return parseInt(text, 8);
}

export function envEntry(text: string): [string, string | null] {
  const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:=([\s\S]*))?$/.exec(text);
  if (!m) throw new Invalid('expected NAME=VALUE (or NAME to pass runfcgi\'s own value through)');
  return [m[1]!, m[2] ?? null];
}

export function umask(text: string): number {
  if (!/^0?[0-7]{1,3}$/.test(text)) throw new Invalid('expected an octal mask such as 022, 007 or 000');
  return parseInt(text, 8);
}

/** A cookie name: an HTTP token (RFC 6265 4.1.1), which needs no quoting anywhere. */
export function cookieName(text: string): string {
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}$/.test(text)) throw new Invalid('expected a cookie name of letters, digits and !#$%&\'*+-.^_`|~ (at most 64)');
  return text;
}
