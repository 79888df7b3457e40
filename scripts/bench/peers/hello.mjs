// The hello-world app every Node peer serves: a (req, res) listener.
export default function hello(req, res) {
  res.setHeader('content-type', 'text/plain');
  res.end('Hello, World!\n');
}
