// The same hello world as a fetch handler.
export default { fetch: () => new Response('Hello, World!\n', { headers: { 'content-type': 'text/plain' } }) };
