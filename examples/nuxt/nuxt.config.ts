// nuxt.config.ts: build a (req, res) listener instead of a server that listens.
export default defineNuxtConfig({
  nitro: {
    preset: 'node-listener',
    // The listener preset serves no files of .output/public unless told to (the
    // web server serves /_nuxt/ below; the rest, favicon and public/, come from here).
    serveStatic: true,
  },
});
