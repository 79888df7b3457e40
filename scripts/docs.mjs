#!/usr/bin/env node
// Keeps the documentation in step with the code: the options table from src/config/options.ts, and
// each recipe from examples/ (between <!-- example:FILE --> and <!-- /example --> markers), in
// README.md, CONTRIBUTING.md and every docs/**/*.md.
// `node scripts/docs.mjs` checks (exit 1 naming the stale files); `--write` rewrites them.
import fs from 'node:fs';
import path from 'node:path';
import { optionsMarkdown } from '../dist/config/options.js';

const FENCE = { conf: 'apache', js: 'js', mjs: 'js', ts: 'ts', fcgi: 'sh', sh: 'bash', htaccess: 'apache', service: 'ini', socket: 'ini', json: 'json', cfg: 'haproxy', yaml: 'yaml', Containerfile: 'dockerfile' };

function fenced(file) {
  const text = fs.readFileSync(`examples/${file}`, 'utf8').trimEnd();
  const ext = file.endsWith('.htaccess') ? 'htaccess' : file.split(/[./]/).pop();
  const lang = file.startsWith('nginx/') || file.endsWith('/nginx.conf') ? 'nginx' : file.startsWith('lighttpd/') ? 'lighttpd' : file.endsWith('Caddyfile') ? 'caddyfile' : (FENCE[ext] ?? '');
  if (file.endsWith('mysite-js.fcgi')) return '```js\n' + text + '\n```';
  return '```' + lang + '\n' + text + '\n```';
}

/** The page with its options table and its recipes as the code and examples/ have them now. */
export function renderPage(page) {
  let out = page.replace(/(<!-- options:start -->\n)[\s\S]*?(\n<!-- options:end -->)/, `$1${optionsMarkdown()}$2`);
  out = out.replace(/<!-- example:(\S+) -->\n[\s\S]*?<!-- \/example -->/g, (_m, file) => `<!-- example:${file} -->\n${fenced(file)}\n<!-- /example -->`);
  return out;
}

/** README.md, CONTRIBUTING.md and every Markdown file under docs/, as paths from the checkout. */
export function docPages() {
  const pages = ['README.md', 'CONTRIBUTING.md'].filter((f) => fs.existsSync(f));
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.name.endsWith('.md')) pages.push(p);
    }
  };
  if (fs.existsSync('docs')) walk('docs');
  return pages;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const stale = [];
  for (const file of docPages()) {
    const page = fs.readFileSync(file, 'utf8');
    const rendered = renderPage(page);
    if (rendered === page) continue;
    if (process.argv.includes('--write')) fs.writeFileSync(file, rendered);
    else stale.push(file);
  }
  if (stale.length > 0) {
    console.error(`stale: ${stale.join(', ')}: run npm run docs`);
    process.exit(1);
  }
}
