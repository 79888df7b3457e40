import { describe, expect, it } from 'vitest';
import { leftOut, workerEnvironment } from '../../../src/master/environment.js';

describe("the workers' clean environment", () => {
  const source = { PATH: '/bin', ORIGIN: 'https://example.org', DATABASE_URL: 'postgres://secret', PWD: '/srv', npm_config_cache: '/x', RUNFCGI_DAEMON: '{}' };

  it('names the variables the workers do not get, leaving out what env= passes and what runfcgi keeps', () => {
    expect(leftOut({ ORIGIN: null }, source)).toEqual(['DATABASE_URL']);
    expect(leftOut({}, source)).toEqual(['DATABASE_URL', 'ORIGIN']);
  });

  it('passes exactly what it does not name', () => {
    const env = workerEnvironment({ ORIGIN: null }, source);
    for (const name of leftOut({ ORIGIN: null }, source)) expect(env).not.toHaveProperty(name);
    expect(env.ORIGIN).toBe('https://example.org');
  });
});
