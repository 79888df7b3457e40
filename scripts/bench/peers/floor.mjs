// The floor: a minimal FastCGI responder under cluster that only finds record boundaries and
// writes one canned reply per request. No params decoding, no HTTP semantics: the limit.
import fs from 'node:fs';
import net from 'node:net';
import { inWorker } from './cluster.mjs';

const [socket, workers = '2'] = process.argv.slice(2);
const body = 'Status: 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 14\r\n\r\nHello, World!\n';

function reply(id) {
  const out = Buffer.alloc(8 + body.length + 8 + 16);
  out.set([1, 6, id >> 8, id & 255, 0, body.length, 0, 0]);
  out.write(body, 8, 'latin1');
  let o = 8 + body.length;
  out.set([1, 6, id >> 8, id & 255, 0, 0, 0, 0], o);
  out.set([1, 3, id >> 8, id & 255, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], o + 8);
  return out;
}

if (inWorker(socket, workers)) {
  net.createServer((c) => {
    let pending = Buffer.alloc(0);
    c.on('data', (chunk) => {
      let buf = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      let o = 0;
      while (buf.length - o >= 8) {
        const size = 8 + buf.readUInt16BE(o + 4) + buf[o + 6];
        if (buf.length - o < size) break;
        // An empty STDIN record ends the request.
        if (buf[o + 1] === 5 && buf.readUInt16BE(o + 4) === 0) c.write(reply(buf.readUInt16BE(o + 2)));
        o += size;
      }
      pending = buf.subarray(o);
    });
    c.on('error', () => {});
  }).listen(socket, () => fs.chmodSync(socket, 0o777));
}
