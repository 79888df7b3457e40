#!/usr/bin/env node
// Prints the options table from src/options.ts; with --write, puts it into README.md between its markers.
import fs from 'node:fs';
import { optionsMarkdown } from '../dist/options.js';

const START = '<!-- options:start -->';
const END = '<!-- options:end -->';
const table = optionsMarkdown();
if (!process.argv.includes('--write')) {
  process.stdout.write(table + '\n');
} else {
  const readme = fs.readFileSync('README.md', 'utf8');
  const a = readme.indexOf(START);
  const b = readme.indexOf(END);
  if (a < 0 || b < a) throw new Error(`README.md lacks the ${START} ... ${END} markers`);
  fs.writeFileSync('README.md', `${readme.slice(0, a + START.length)}\n${table}\n${readme.slice(b)}`);
}
