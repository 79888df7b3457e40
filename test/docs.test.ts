import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { optionsMarkdown } from '../src/options.js';

describe('documentation', () => {
  it("README's options table is the one generated from the options table (npm run docs)", () => {
    expect(fs.readFileSync('README.md', 'utf8')).toContain(optionsMarkdown());
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
