// Reads the whole POST body and answers with its length: lossless worker changes are measured with it.
export default (req, res) => {
  let n = 0;
  req.on('data', (d) => (n += d.length));
  req.on('end', () => res.end(`ok ${n}\n`));
};
