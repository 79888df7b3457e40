// The route cookie: which worker a client's requests go to (sticky=true).

/**
 * The value of cookie `name` in a Cookie header, or undefined. Only the
 * first of that name counts, as most servers read it. No decoding: our
 * values are plain tokens, and a value we did not make names no worker.
 */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  let from = 0;
  for (;;) {
    const at = header.indexOf(name, from);
    if (at < 0) return undefined;
    const end = at + name.length;
    // A whole name: at the start or after "; ", and followed by "=".
    if (header.charCodeAt(end) === 0x3d && (at === 0 || header.charCodeAt(at - 1) === 0x20 || header.charCodeAt(at - 1) === 0x3b)) {
      const stop = header.indexOf(';', end + 1);
      return header.slice(end + 1, stop < 0 ? header.length : stop).trim();
    }
    from = end;
  }
}

/**
 * The CGI header line that sets the route cookie. HttpOnly: no script needs
 * it; SameSite=Lax: sent on top-level navigation, as a session cookie is;
 * no Expires: it names a worker, which lives no longer than the browser's
 * session is likely to.
 */
export function setCookieLine(name: string, value: string): string {
  return `Set-Cookie: ${name}=${value}; Path=/; HttpOnly; SameSite=Lax\r\n`;
}
