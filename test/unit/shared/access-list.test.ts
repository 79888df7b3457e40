import { describe, expect, it } from 'vitest';
import { webServerCheck } from '../../../src/shared/access-list.js';

describe('FCGI_WEB_SERVER_ADDRS', () => {
  it('is off when unset or empty', () => {
    expect(webServerCheck(undefined)).toBeUndefined();
    expect(webServerCheck(' ')).toBeUndefined();
  });

  it('compares IPv4, IPv6 and IPv4-mapped IPv6 addresses, not their spellings', () => {
    const allowed = webServerCheck('192.0.2.1, 2001:db8::1,::ffff:198.51.100.7')!;
    expect(allowed('192.0.2.1')).toBe(true);
    expect(allowed('::ffff:192.0.2.1')).toBe(true);
    expect(allowed('2001:0db8:0000:0000:0000:0000:0000:0001')).toBe(true);
    expect(allowed('198.51.100.7')).toBe(true);
    expect(allowed('192.0.2.2')).toBe(false);
    expect(allowed('2001:db8::2')).toBe(false);
    expect(allowed('')).toBe(false);
  });

  it('names a bad entry', () => {
    expect(() => webServerCheck('192.0.2.1,web1.example')).toThrow("FCGI_WEB_SERVER_ADDRS: 'web1.example' is not an IPv4 or IPv6 address");
  });
});
