// The command line: the option cases run main(argv) in this process; a few run the real command.

import { describe, expect, it, vi } from 'vitest';
import { parseArgs } from '../../../src/cli/args.js';
import { main } from '../../../src/cli/main.js';
import { resolveOptions } from '../../../src/config/options.js';
import { runSync } from '../../helpers/run.js';

/** main(argv) in this process, with what it writes to standard output and error. */
async function runMain(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((stdout += String(chunk)), true));
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((stderr += String(chunk)), true));
  try {
    return { code: await main(argv), stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

describe('command line', () => {
  it('prints help with every option and the examples, exit 0', async () => {
    for (const word of ['help', '--help', '-h']) {
      // One real command, the others in process.
      const r = word === 'help' ? runSync([word]) : await runMain([word]);
      expect(r.code).toBe(0);
      for (const name of ['app', 'protocol', 'host', 'port', 'socket', 'method', 'maxchildren', 'minspare', 'maxspare', 'maxrequests', 'daemonize', 'pidfile', 'workdir', 'umask', 'outlog', 'errlog', 'debug', 'touchreload']) {
        expect(r.stdout).toMatch(new RegExp(`^  ${name}=\\S+ `, 'm'));
      }
      // As users type them, with the values or what kind of value.
      expect(r.stdout).toMatch(/^  method=prefork\|threaded /m);
      expect(r.stdout).toMatch(/^  socket=PATH /m);
      expect(r.stdout).toMatch(/^  daemonize=true\|false /m);
      expect(r.stdout).toMatch(/^  pm=dynamic\|ondemand /m);
      for (const command of ['status [--json] [--watch]', 'reload', 'stop']) expect(r.stdout).toContain(`runfcgi ${command} pidfile=FILE|socket=PATH`);
      expect(r.stdout).toContain('runfcgi app=./app.js method=prefork socket=/home/user/mysite.sock pidfile=django.pid');
    }
  });

  it.each([
    [['method=foo'], /^runfcgi: method=foo: expected prefork, fork, threaded, thread/],
    [['host=127.0.0.1', 'port=abc'], /^runfcgi: port=abc: expected a whole number from 1 to 65535/],
    [['host=127.0.0.1', 'port=70000'], /^runfcgi: port=70000: expected a whole number from 1 to 65535/],
    [['host=127.0.0.1'], /^runfcgi: host=127.0.0.1 needs port= as well/],
    [['port=3033'], /^runfcgi: port=3033 needs host= as well/],
    [['socket=/tmp/x.sock', 'host=127.0.0.1', 'port=3033'], /^runfcgi: socket= and host=\/port= exclude each other/],
    [['daemonize=maybe'], /^runfcgi: daemonize=maybe: expected true or false/],
    [['umask=999'], /^runfcgi: umask=999: expected an octal mask/],
    [['minspare=4', 'maxspare=2'], /^runfcgi: maxspare=2 is less than minspare=4/],
    [['maxchildren=2', 'minspare=3'], /^runfcgi: minspare=3 is more than maxchildren=2/],
    [['maxrequests=-1'], /^runfcgi: maxrequests=-1: expected a whole number, 0 or more/],
    [['hots=127.0.0.1'], /^runfcgi: unknown option 'hots' \(did you mean 'host'\?\)/],
    [['--sokcet=/tmp/a'], /^runfcgi: unknown option 'sokcet' \(did you mean 'socket'\?\)/],
    [['frobnicate=1'], /^runfcgi: unknown option 'frobnicate' \(see/],
    [['host=not a host!', 'port=1'], /^runfcgi: host=not a host!: expected an IPv4 or IPv6 address/],
    [['socket=/tmp/' + 'x'.repeat(120)], /^runfcgi: socket=\/tmp\/x+: expected a path of at most 107 bytes/],
    [['debug=perhaps'], /^runfcgi: debug=perhaps: expected true or false/],
    [['fastresponse=perhaps'], /^runfcgi: fastresponse=perhaps: expected true or false/],
    [['sticky=maybe'], /^runfcgi: sticky=maybe: expected true or false/],
    [['stickycookie=route'], /^runfcgi: stickycookie=route applies to sticky sessions: give sticky=true as well/],
    [['sticky=true', 'stickycookie=a;b'], /^runfcgi: stickycookie=a;b: expected a cookie name/],
    [['protocol=http'], /^runfcgi: protocol=http: expected fcgi, fastcgi, scgi/],
    [['backlog=0'], /^runfcgi: backlog=0: expected a whole number from 1 to 65535/],
    [['firstbytetimeout=-1'], /^runfcgi: firstbytetimeout=-1: expected a whole number from 0 to 86400/],
    [['maxheadersize=10'], /^runfcgi: maxheadersize=10: expected a whole number from 1024 to/],
    [['applog=xml'], /^runfcgi: applog=xml: expected raw, json/],
    [['stray'], /^runfcgi: unknown command 'stray': runfcgi takes key=value options .* or one of the commands help, check, status, reload, stop, ping/],
    [['app=./a.js', 'stray'], /^runfcgi: unexpected word 'stray'/],
    [['--port'], /^runfcgi: port needs a value/],
    [['timeout=soon'], /^runfcgi: timeout=soon: expected a whole number from 0 to 86400/],
    [['slowlog=-1'], /^runfcgi: slowlog=-1: expected a whole number/],
    [['status=status'], /^runfcgi: status=status: expected a URL path starting with \//],
    [['status=/s', 'ping=/s'], /^runfcgi: status=\/s and ping=\/s are the same path/],
    [['loglevel=loud'], /^runfcgi: loglevel=loud: expected fatal, error, warn, info, debug, trace, silent/],
    [['socketmode=999', 'socket=/tmp/x.sock'], /^runfcgi: socketmode=999: expected an octal file mode/],
    [['socketgroup=www-data'], /^runfcgi: socketgroup= applies to a UNIX socket: give socket= as well/],
    [['user=no body'], /^runfcgi: user=no body: expected a user or group name/],
    [['group=www-data'], /^runfcgi: group=www-data needs user= as well/],
    [['env=1BAD=x'], /^runfcgi: env=1BAD=x: expected NAME=VALUE/],
    [['graceperiod=long'], /^runfcgi: graceperiod=long: expected a whole number from 0 to 86400/],
    [['daemonize=constructor'], /^runfcgi: daemonize=constructor: expected true or false/],
    [['protocol=__proto__'], /^runfcgi: protocol=__proto__: expected fcgi, fastcgi, scgi/],
    [['loglevel=constructor'], /^runfcgi: loglevel=constructor: expected fatal/],
    [['maxparamsbytes=10'], /^runfcgi: maxparamsbytes=10: expected a whole number from 1024 to 67108864/],
    [['maxparams=5'], /^runfcgi: maxparams=5: expected a whole number from 10 to 100000/],
    [['maxconns=0'], /^runfcgi: maxconns=0: expected a whole number from 1 to 1000000/],
    [['maxreqs=70000'], /^runfcgi: maxreqs=70000: expected a whole number from 1 to 65535/],
    [['idletimeout=-5'], /^runfcgi: idletimeout=-5: expected a whole number from 0 to 86400/],
    [['readtimeout=1.5'], /^runfcgi: readtimeout=1.5: expected a whole number from 0 to 86400/],
    [['maxmemory=512M'], /^runfcgi: maxmemory=512M: expected a whole number from 0 to 1000000/],
    [['socket=/tmp/x.sock', 'socketowner=no body'], /^runfcgi: socketowner=no body: expected a user or group name/],
    [['accesslog='], /^runfcgi: accesslog=: expected a file path/],
    [['pm=static'], /^runfcgi: pm=static: expected dynamic, ondemand/],
    [['pm=ondemand', 'processidletimeout=0'], /^runfcgi: processidletimeout=0: expected a whole number from 1 to 86400/],
    [['pm=ondemand', 'processidletimeout=10s'], /^runfcgi: processidletimeout=10s: expected a whole number from 1 to 86400/],
    [['processidletimeout=10'], /^runfcgi: processidletimeout=10 applies to pm=ondemand: give pm=ondemand as well/],
    // A wrong value is an error even when a later repeat of the key would override it.
    [['daemonize=maybe', 'daemonize=false'], /^runfcgi: daemonize=maybe: expected true or false/],
    [['daemonize=false', '--method=sideways', 'method=prefork'], /^runfcgi: method=sideways: expected prefork/],
  ])('%j is refused with one clear line and exit 2', async (args, message) => {
    const r = await runMain(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain("runfcgi help");
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('takes key=value, --key=value and --key value, keys in any case', () => {
    expect(parseArgs(['Host=::1', '--PORT=3033', '--method', 'thread'])).toEqual({ host: '::1', port: '3033', method: 'thread' });
  });

  it('takes a key given twice as its last value, once both are valid', () => {
    expect(parseArgs(['port=1', 'port=2'])).toEqual({ port: ['1', '2'] });
    expect(resolveOptions(parseArgs(['host=127.0.0.1', 'port=1', 'port=2']) as Record<string, string>).port).toBe(2);
  });

  it('takes env= more than once, adding up', () => {
    expect(resolveOptions(parseArgs(['env=A=1', 'env=B=two=2', 'env=PATH']) as Record<string, string>).env).toEqual({ A: '1', B: 'two=2', PATH: null });
    expect(resolveOptions({ env: { A: '1' } }).env).toEqual({ A: '1' });
  });

  it('refuses a bad option as a real command: one line on standard error, exit 2', () => {
    const r = runSync(['method=foo']);
    expect([r.code, r.stdout, r.stderr]).toEqual([2, '', "runfcgi: method=foo: expected prefork, fork, threaded, thread (see 'runfcgi help')\n"]);
  });

  it('check validates the options and loads the app without serving: exit 0, or 1 with the reason', () => {
    const ok = runSync(['check', 'app=test/fixtures/express-app.mjs']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/check passed/);
    const bad = runSync(['check', 'app=test/fixtures/throws-at-load.mjs']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^runfcgi: check failed: app=.* failed to load: Error: database password missing/);
    expect(runSync(['check', 'method=sideways']).code).toBe(1);
  });

  it('exits 2 explaining the three ways to listen when given no address and no socket on fd 0', () => {
    const r = runSync(['daemonize=false'], { input: '' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/nothing to listen on: give socket=PATH .* or host=ADDRESS port=PORT .* fd 0/);
  });
});

describe('options', () => {
  it('daemonizes by default only when an address is given, as Django does', () => {
    expect(resolveOptions({}).daemonize).toBe(false);
    expect(resolveOptions({ socket: '/tmp/a.sock' }).daemonize).toBe(true);
    expect(resolveOptions({ host: '127.0.0.1', port: 3033 }).daemonize).toBe(true);
    expect(resolveOptions({ socket: '/tmp/a.sock', daemonize: 'no' }).daemonize).toBe(false);
  });

  it('resolves relative paths against the starting directory', () => {
    const o = resolveOptions({ socket: 'run/x.sock', pidfile: 'x.pid', outlog: 'o.log', errlog: 'e.log' }, '/srv/site');
    expect([o.socket, o.pidfile, o.outlog, o.errlog]).toEqual(['/srv/site/run/x.sock', '/srv/site/x.pid', '/srv/site/o.log', '/srv/site/e.log']);
  });

  it('accepts typed values from JavaScript and checks them the same way', () => {
    expect(resolveOptions({ host: '127.0.0.1', port: 3033, debug: true, daemonize: false })).toMatchObject({ port: 3033, debug: true });
    expect(() => resolveOptions({ method: 'forked' })).toThrow(/method=forked: expected/);
  });

  it('pm=ondemand starts one worker when woken unless minspare says more, and stops them after 10 s by default', () => {
    expect(resolveOptions({ pm: 'ondemand' })).toMatchObject({ pm: 'ondemand', minspare: 1, processidletimeout: 10 });
    expect(resolveOptions({ pm: 'ondemand', minspare: 2, processidletimeout: 300 })).toMatchObject({ minspare: 2, processidletimeout: 300 });
    expect(resolveOptions({}).pm).toBe('dynamic');
  });

  it('keeps spare bounds within maxchildren when only maxchildren is given', () => {
    const o = resolveOptions({ maxchildren: 1 });
    expect([o.minspare, o.maxspare, o.maxchildren]).toEqual([1, 1, 1]);
  });

  it('brackets are optional around an IPv6 host', () => {
    expect(resolveOptions({ host: '[::1]', port: 1 }).host).toBe('::1');
  });
});
