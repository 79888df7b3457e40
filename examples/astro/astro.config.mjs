// astro.config.mjs: the standalone build, whose `handler` serves dist/client too.
// (Middleware mode serves no static files.) runfcgi keeps it from listening itself.
import node from '@astrojs/node';
import { defineConfig } from 'astro/config';

export default defineConfig({
  output: 'server',
  adapter: node({ mode: 'standalone' }),
  // Only for X-Forwarded-Host/-Proto, which runfcgi does not need: nginx sends the
  // browser's Host (fastcgi_param HTTP_HOST $http_host) and HTTPS=on. Behind another
  // proxy that sends them, list your domain or Astro ignores them.
  security: { allowedDomains: [{ hostname: 'example.com', protocol: 'https' }] },
});
