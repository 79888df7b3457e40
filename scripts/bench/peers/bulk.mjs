// Bulk workloads: POST /upload counts the body as it streams in; GET /download?mb=N streams N MB out.
const block = Buffer.alloc(1024 * 1024, 'x');

export default function bulk(req, res) {
  const url = new URL(req.url, 'http://x');
  if (req.method === 'POST') {
    let n = 0;
    req.on('data', (c) => (n += c.length));
    req.on('end', () => res.end(`${n}\n`));
    return;
  }
  let left = Number(url.searchParams.get('mb') ?? 1);
  res.setHeader('content-type', 'application/octet-stream');
  res.setHeader('content-length', String(left * block.length));
  const pump = () => {
    while (left > 0) {
      left--;
      if (!res.write(block)) return void res.once('drain', pump);
    }
    res.end();
  };
  pump();
}
