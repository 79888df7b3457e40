import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { optionsMarkdown } from '../../src/config/options.js';

describe('documentation', () => {
  it("README's options table is the one generated from the options table (npm run docs)", () => {
    expect(fs.readFileSync('README.md', 'utf8')).toContain(optionsMarkdown());
  });

  it("README's recipes are the files in examples/ that the integration tests run (npm run docs)", () => {
    const readme = fs.readFileSync('README.md', 'utf8');
    const embedded = [...readme.matchAll(/<!-- example:(\S+) -->/g)].map((m) => m[1]);
    for (const file of ['apache/mysite.conf', 'lighttpd/lighttpd.conf', 'lighttpd/lighttpd-spawn.conf', 'shared-hosting/.htaccess', 'shared-hosting/mysite.fcgi', 'shared-hosting/mysite-js.fcgi', 'nginx/mysite.conf']) {
      expect(embedded).toContain(file);
    }
    expect(() => execFileSync(process.execPath, ['scripts/docs.mjs'], { stdio: 'pipe' })).not.toThrow();
  });

  it("docs/state.md's recipes are the files in examples/state/ that state-recipes.test.ts runs", () => {
    const page = fs.readFileSync('docs/state.md', 'utf8');
    const embedded = [...page.matchAll(/<!-- example:(\S+) -->/g)].map((m) => m[1]);
    expect(embedded).toEqual(['state/session-memory.mjs', 'state/socketio.mjs', 'state/session-redis.mjs']);
  });

  it('README opens with the install and run commands, then the test command', () => {
    const readme = fs.readFileSync('README.md', 'utf8');
    const install = readme.indexOf('npm install');
    const runIt = readme.indexOf('./bin/runfcgi');
    const test = readme.indexOf('npm test');
    expect(install).toBeGreaterThan(0);
    expect(runIt).toBeGreaterThan(install);
    expect(test).toBeGreaterThan(runIt);
  });
});
