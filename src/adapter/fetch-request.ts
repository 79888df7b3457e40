// The Request a fetch handler gets: method, URL and headers from the params, built only as far as the app reads it.

import { cgiHeaders } from '../protocol/cgi.js';
import { isDisturbed, type FetchSink } from './fetch-body.js';
import { delegateGetter, graft } from './graft.js';

const NativeRequest = globalThis.Request;
const EMPTY = Buffer.alloc(0);
const UTF8_BOM = 0xfeff;

function bodyUnusable(): TypeError {
  return new TypeError('Body is unusable: Body has already been read');
}

/** UTF-8 decode as the Fetch standard's text() does: a leading BOM dropped, bad bytes replaced. */
function decodeUtf8(bytes: Buffer): string {
  const text = bytes.toString('utf8');
  return text.charCodeAt(0) === UTF8_BOM ? text.slice(1) : text;
}

/** The real Request behind one of ours (for `new Request(ours)` and the properties we do not keep). */
// Assigned in LazyRequest's static block, which can read its private fields.
export let materialise: (request: LazyRequest) => Request;

/**
 * One FastCGI request as a web `Request`. Its prototype chains to
 * `Request.prototype`, so `instanceof Request` holds, and it costs an object
 * and a few fields until the app reads it: `headers` become a `Headers` on
 * first read, `signal` an AbortController's, `text()`/`json()`/... take
 * STDIN whole without a web stream. `body` is a web stream only when read.
 * Anything else (`cache`, `clone()`, `new Request(request)`...) builds a
 * real Request from the same input once, and answers from it.
 */
export class LazyRequest {
  readonly #method: string;
  readonly #url: string;
  /** The CGI params: the headers are made of them when first read. */
  readonly #params: Record<string, string>;
  /** STDIN, and the abort that ends the signal. */
  readonly #sink: FetchSink;
  /** Null for a request that cannot have a body (GET, HEAD): its STDIN is not the body. */
  readonly #input: FetchSink | null;
  #headers: Headers | undefined;
  #controller: AbortController | undefined;
  #stream: ReadableStream<Uint8Array> | undefined;
  /** Read by text()/json()/...: the body is gone. */
  #used = false;
  /** The app held the body stream when the real Request was built: `body` stays that stream. */
  #ownStream = false;
  #native: Request | undefined;

  constructor(method: string, url: string, params: Record<string, string>, sink: FetchSink, hasBody: boolean) {
    this.#method = method;
    this.#url = url;
    this.#params = params;
    this.#sink = sink;
    this.#input = hasBody ? sink : null;
  }

  get method(): string {
    return this.#method;
  }

  get url(): string {
    return this.#url;
  }

  get headers(): Headers {
    if (this.#headers === undefined) {
      if (this.#native !== undefined) return (this.#headers = this.#native.headers);
      const headers = new Headers();
      const raw = cgiHeaders(this.#params);
      for (let i = 0; i < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!);
      this.#headers = headers;
    }
    return this.#headers;
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      const controller = (this.#controller = new AbortController());
      const sink = this.#sink;
      if (sink.abortReason !== null) controller.abort(sink.abortReason);
      else sink.onAbort = (reason) => controller.abort(reason);
    }
    return this.#controller.signal;
  }

  get body(): ReadableStream<Uint8Array> | null {
    if (this.#used) return (this.#stream ??= readStream());
    if (this.#native !== undefined && !this.#ownStream) return this.#native.body;
    if (this.#stream !== undefined) return this.#stream;
    if (this.#input === null) return null;
    return (this.#stream = this.#input.stream());
  }

  get bodyUsed(): boolean {
    if (this.#used) return true;
    if (this.#native !== undefined && !this.#ownStream) return this.#native.bodyUsed;
    return this.#stream !== undefined && isDisturbed(this.#stream);
  }

  text(): Promise<string> {
    return this.#bytes('text', decodeUtf8);
  }

  json(): Promise<unknown> {
    return this.#bytes('json', (bytes) => JSON.parse(decodeUtf8(bytes)) as unknown);
  }

  arrayBuffer(): Promise<ArrayBuffer> {
    return this.#bytes('arrayBuffer', (bytes) => {
      const copy = new ArrayBuffer(bytes.length);
      new Uint8Array(copy).set(bytes);
      return copy;
    });
  }

  bytes(): Promise<Uint8Array> {
    // A copy: the chunks may sit in Buffer's shared pool, which `.buffer` would expose.
    return this.#bytes('bytes', (bytes) => new Uint8Array(bytes));
  }

  // Blob and FormData take the MIME type (and multipart boundary) from the headers
  // as a Request would: a Response over the bytes read in one piece does that.
  blob(): Promise<Blob> {
    return this.#bytes('blob', (bytes) => this.#asResponse(bytes).blob());
  }

  formData(): Promise<FormData> {
    return this.#bytes('formData', (bytes) => this.#asResponse(bytes).formData());
  }

  clone(): Request {
    return this.#request().clone();
  }

  #asResponse(bytes: Buffer): Response {
    const type = this.headers.get('content-type');
    return new Response(bytes as Uint8Array<ArrayBuffer>, type === null ? undefined : { headers: { 'content-type': type } });
  }

  /** STDIN whole, given to `convert`; once the body is a stream, a real Request reads it. */
  #bytes<T>(method: 'text' | 'json' | 'arrayBuffer' | 'bytes' | 'blob' | 'formData', convert: (bytes: Buffer) => T | Promise<T>): Promise<T> {
    if (this.#native !== undefined || this.#stream !== undefined) {
      if (this.#used || (this.#stream !== undefined && (this.#ownStream || this.#native === undefined) && (this.#stream.locked || isDisturbed(this.#stream)))) {
        return Promise.reject(bodyUnusable());
      }
      try {
        return this.#request()[method]() as Promise<T>;
      } catch (error) {
        return Promise.reject(error as Error);
      }
    }
    if (this.#used) return Promise.reject(bodyUnusable());
    this.#used = true;
    const input = this.#input;
    if (input === null) return new Promise((resolve) => resolve(convert(EMPTY)));
    return input.readAll().then(convert);
  }

  /** The real Request, built once from the same input. */
  #request(): Request {
    if (this.#native !== undefined) return this.#native;
    let body: ReadableStream<Uint8Array> | null = null;
    if (this.#input !== null && !this.#used) {
      const stream = (this.#stream ??= this.#input.stream());
      if (!stream.locked && !isDisturbed(stream)) body = stream;
      else this.#ownStream = true;
    }
    let headers: HeadersInit | undefined = this.#headers;
    const raw = headers === undefined ? cgiHeaders(this.#params) : [];
    if (raw.length > 0) {
      const pairs: [string, string][] = [];
      for (let i = 0; i < raw.length; i += 2) pairs.push([raw[i]!, raw[i + 1]!]);
      headers = pairs;
    }
    const init = { method: this.#method, headers, body, signal: this.signal, duplex: 'half' };
    this.#native = new NativeRequest(this.#url, init as RequestInit);
    return this.#native;
  }

  static {
    materialise = (request) => request.#request();
  }
}

/** A body read to its end: what `body` is after text() and friends, as on a real Request. */
function readStream(): ReadableStream<Uint8Array> {
  const stream = new ReadableStream<Uint8Array>({ start: (controller) => controller.close() });
  void stream.getReader().read();
  return stream;
}

/**
 * Everything a Request has that LazyRequest does not answer itself (cache,
 * mode, redirect, duplex..., and the internal symbols Node 20 and 22 read in
 * `new Request(request)`) is read from the real Request.
 */
function inheritTheRest(): void {
  const ours = LazyRequest.prototype;
  const real = (self: object): object => materialise(self as LazyRequest);
  // Node 20 and 22 keep a Request's state under symbols that `new Request(input)`
  // reads from its input: answered from the real Request, ours passes for one.
  for (const key of Object.getOwnPropertySymbols(new NativeRequest('http://localhost/'))) delegateGetter(ours, key, real);
  Object.defineProperty(ours, 'constructor', { configurable: true, writable: true, value: NativeRequest });
  graft(ours, NativeRequest.prototype, real);
}
inheritTheRest();

/** `new Request(ours)` works as it is where the Request's state is under symbols (Node 20, 22). */
const STATE_UNDER_SYMBOLS = Object.getOwnPropertySymbols(new NativeRequest('http://localhost/')).length > 0;

/**
 * Where Request keeps its state in private fields (Node 24 and later), a
 * Request built from ours must be built from the real one: the global
 * Request becomes a subclass that does that, and the global fetch takes
 * ours the same way. Instances of it are native Requests; `instanceof
 * Request` holds for native ones too.
 */
export function letRequestTakeOurs(): void {
  if (STATE_UNDER_SYMBOLS || (globalThis.Request as { runfcgi?: boolean }).runfcgi === true) return;
  class Request extends NativeRequest {
    static readonly runfcgi = true;
    constructor(input: RequestInfo | URL, init?: RequestInit) {
      super(input instanceof LazyRequest ? materialise(input) : input, init);
    }

    static override [Symbol.hasInstance](value: unknown): boolean {
      return value instanceof NativeRequest;
    }
  }
  const nativeFetch = globalThis.fetch;
  const fetch = (input: RequestInfo | URL, init?: RequestInit): Promise<Response> =>
    nativeFetch(input instanceof LazyRequest ? materialise(input) : input, init);
  Object.defineProperty(globalThis, 'Request', { configurable: true, writable: true, value: Request });
  Object.defineProperty(globalThis, 'fetch', { configurable: true, writable: true, enumerable: true, value: fetch });
}
