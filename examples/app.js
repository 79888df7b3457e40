// A small app to start from: an Express-free (req, res) listener. Replace it with your Express,
// Koa, Fastify or Hono app (see docs/your-app.md).
export default function app(req, res) {
  res.setHeader('content-type', 'text/plain; charset=utf-8');
  res.end(`Hello from runfcgi: ${req.method} ${req.url}\n`);
}
