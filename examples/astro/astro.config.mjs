// astro.config.mjs: the standalone build, whose `handler` serves dist/client too.
// (Middleware mode serves no static files.) runfcgi keeps it from listening itself.
import node from '@astrojs/node';
import { defineConfig } from 'astro/config';

export default defineConfig({
  output: 'server',
  adapter: node({ mode: 'standalone' }),
  // Astro 7 believes a request's Host (and X-Forwarded-Host) only for the domains listed here:
  // list your site's, or every form POST gets 403 and Astro.url says localhost:4321.
  security: { allowedDomains: [{ hostname: 'example.com' }] },
});
