#!/usr/bin/env node
// Keeps README.md and the pages under docs/ in step with the code: the options table from
// src/config/options.ts, and each recipe from examples/ (between <!-- example:FILE --> and <!-- /example -->
// markers). `node scripts/docs.mjs` checks (exit 1 when stale); `--write` rewrites them.
import fs from 'node:fs';
import { optionsMarkdown } from '../dist/config/options.js';

const FENCE = { conf: 'apache', js: 'js', mjs: 'js', ts: 'ts', fcgi: 'sh', sh: 'bash', htaccess: 'apache', service: 'ini', socket: 'ini' };

function fenced(file) {
  const text = fs.readFileSync(`examples/${file}`, 'utf8').trimEnd();
  const ext = file.endsWith('.htaccess') ? 'htaccess' : file.split('.').pop();
  const lang = file.startsWith('nginx/') || file.endsWith('/nginx.conf') ? 'nginx' : file.startsWith('lighttpd/') ? 'lighttpd' : (FENCE[ext] ?? '');
  if (file.endsWith('mysite-js.fcgi')) return '```js\n' + text + '\n```';
  return '```' + lang + '\n' + text + '\n```';
}

export function renderReadme(readme) {
  let out = readme.replace(/(<!-- options:start -->\n)[\s\S]*?(\n<!-- options:end -->)/, `$1${optionsMarkdown()}$2`);
  out = out.replace(/<!-- example:(\S+) -->\n[\s\S]*?<!-- \/example -->/g, (_m, file) => `<!-- example:${file} -->\n${fenced(file)}\n<!-- /example -->`);
  return out;
}

// The README and the pages under docs/ embed recipes alike.
const pages = ['README.md', ...(fs.existsSync('docs') ? fs.readdirSync('docs', { recursive: true }).filter((f) => String(f).endsWith('.md')).map((f) => `docs/${f}`) : [])];
let stale = false;
for (const page of pages) {
  const text = fs.readFileSync(page, 'utf8');
  const rendered = renderReadme(text);
  if (process.argv.includes('--write')) fs.writeFileSync(page, rendered);
  else if (rendered !== text) {
    console.error(`${page} is stale: run npm run docs`);
    stale = true;
  }
}
if (stale) process.exit(1);
