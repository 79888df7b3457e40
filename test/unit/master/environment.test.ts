import { describe, expect, it } from 'vitest';
import { leftOut, workerEnvironment } from '../../../src/master/environment.js';

describe("the workers' clean environment", () => {
  const source = { PATH: '/bin', ORIGIN: 'https://example.org', DATABASE_URL: 'postgres://secret', PWD: '/srv', npm_config_cache: '/x', RUNFCGI_DAEMON: '{}' };

  it('names the variables the workers do not get, leaving out what env= passes and what runfcgi keeps', () => {
    expect(leftOut({ ORIGIN: null }, source)).toEqual(['DATABASE_URL']);
    expect(leftOut({}, source)).toEqual(['DATABASE_URL', 'ORIGIN']);
  });

  it('passes exactly what it does not name: the kept variables and those env= names', () => {
    const env = workerEnvironment({ ORIGIN: null, EXTRA: 'x' }, source);
    for (const name of leftOut({ ORIGIN: null, EXTRA: 'x' }, source)) expect(env).not.toHaveProperty(name);
    // The whole environment, so that a variable dropped (PATH) or leaked (PWD) fails here.
    expect(env).toEqual({ PATH: '/bin', ORIGIN: 'https://example.org', EXTRA: 'x' });
  });

  it('gives a worker that changes user its HOME, USER and LOGNAME', () => {
    const env = workerEnvironment({}, { PATH: '/bin', HOME: '/root', USER: 'root' }, { uid: 33, gid: 33, name: 'www-data', home: '/var/www' });
    expect(env).toEqual({ PATH: '/bin', HOME: '/var/www', USER: 'www-data', LOGNAME: 'www-data' });
  });
});
