// FCGI_WEB_SERVER_ADDRS (FastCGI spec 3.2): the web servers allowed to connect over TCP.

import net from 'node:net';
import { UsageError } from './errors.js';

export const WEB_SERVER_ADDRS = 'FCGI_WEB_SERVER_ADDRS';

/** ::ffff:192.0.2.1 (an IPv4 peer on an IPv6 socket) is 192.0.2.1. */
function unmapped(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m ? m[1]! : address;
}

/**
 * A check of peer addresses against the list in `value` (comma-separated
 * IPv4 and IPv6 addresses), or undefined when no list is set. Throws a
 * UsageError naming a bad entry.
 */
export function webServerCheck(value: string | undefined): ((address: string) => boolean) | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const allowed = new net.BlockList();
  for (const raw of value.split(',')) {
    const address = unmapped(raw.trim());
    const family = net.isIP(address);
    if (family === 0) throw new UsageError(`${WEB_SERVER_ADDRS}: '${raw.trim()}' is not an IPv4 or IPv6 address`);
    allowed.addAddress(address, family === 4 ? 'ipv4' : 'ipv6');
  }
  return (peer: string): boolean => {
    const address = unmapped(peer);
    const family = net.isIP(address);
    // BlockList compares addresses, not their spellings (::1 and 0:0::1 are one).
    return family !== 0 && allowed.check(address, family === 4 ? 'ipv4' : 'ipv6');
  };
}
