// A Response that is not this realm's: whatwg-node's (GraphQL Yoga), undici's from another realm, a polyfill's.

/** What sendResponse writes: the status, the headers as a real Headers, and a body it knows how to copy. */
export interface ForeignParts {
  status: number;
  statusText: string;
  headers: Headers;
  body: ReadableStream<Uint8Array> | Uint8Array | string | AsyncIterable<Uint8Array> | null;
}

interface ResponseLike {
  status: unknown;
  statusText?: unknown;
  headers?: unknown;
  body?: unknown;
}

/**
 * @hono/node-server writes anything with a numeric status, headers and a
 * body that is null or a web stream: so do we. The check is on shape, not
 * on class, since each ponyfill has its own (whatwg-node's Response is no
 * `instanceof Response`, nor is a Response made in a vm context).
 */
export function foreignParts(value: unknown): ForeignParts | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const r = value as ResponseLike;
  if (typeof r.status !== 'number' || !Number.isInteger(r.status) || r.status < 100 || r.status > 999) return undefined;
  const body = bodyOf(r.body);
  if (body === undefined) return undefined;
  const headers = headersOf(r.headers);
  if (headers === undefined) return undefined;
  // As Node's server (through @hono/node-server) would: a body without a type is text.
  if (body !== null && !headers.has('content-type')) headers.set('content-type', 'text/plain; charset=UTF-8');
  return { status: r.status, statusText: typeof r.statusText === 'string' ? r.statusText : '', headers, body };
}

function bodyOf(body: unknown): ForeignParts['body'] | undefined {
  if (body === null || body === undefined) return null;
  if (typeof body === 'string' || body instanceof Uint8Array) return body;
  if (typeof (body as ReadableStream).getReader === 'function') return webStream(body as ReadableStream<Uint8Array>);
  if (typeof (body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator] === 'function') return body as AsyncIterable<Uint8Array>;
  return undefined;
}

/** A foreign stream read through its own reader, as a ReadableStream of this realm. */
function webStream(stream: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  if (stream instanceof ReadableStream) return stream;
  const reader = (stream as { getReader(): ReadableStreamDefaultReader<unknown> }).getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) controller.close();
      // A chunk from another realm is no Uint8Array here: view its bytes.
      else controller.enqueue(value instanceof Uint8Array ? value : new Uint8Array(toBytes(value)));
    },
    cancel: (reason) => reader.cancel(reason),
  });
}

function toBytes(value: unknown): ArrayBufferLike {
  const view = value as ArrayBufferView;
  if (typeof view?.byteLength === 'number' && view.buffer !== undefined) return view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength);
  if (typeof value === 'string') return Buffer.from(value).buffer;
  throw new TypeError(`a Response body stream gave ${describeValue(value)}, not bytes`);
}

/** Headers from another Headers class (iterable pairs), a record or pairs; undefined when none of these. */
function headersOf(headers: unknown): Headers | undefined {
  if (headers === undefined || headers === null) return new Headers();
  if (headers instanceof Headers) return new Headers(headers);
  if (typeof headers !== 'object') return undefined;
  try {
    const h = headers as { [Symbol.iterator]?: unknown; getSetCookie?: () => string[] };
    if (typeof h[Symbol.iterator] !== 'function') return new Headers(headers as Record<string, string>);
    const out = new Headers();
    for (const [name, value] of headers as Iterable<[string, string]>) {
      if (name.toLowerCase() !== 'set-cookie') out.append(name, value);
    }
    // Iterated, a Headers joins its Set-Cookie headers; each must stay on its own.
    const cookies = typeof h.getSetCookie === 'function' ? h.getSetCookie() : [...(headers as Iterable<[string, string]>)].filter(([n]) => n.toLowerCase() === 'set-cookie').map(([, v]) => v);
    for (const cookie of cookies) out.append('set-cookie', cookie);
    return out;
  } catch {
    return undefined;
  }
}

/** What came back instead of a Response, for the log line: "undefined", "a string", "an object with keys a, b". */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value !== 'object') return `a ${typeof value}`;
  const name = (value as object).constructor?.name;
  const keys = Object.keys(value).slice(0, 8).join(', ');
  return `${name && name !== 'Object' ? `a ${name}` : 'an object'} with keys ${keys || '(none)'}`;
}
