// FastResponse: a Response that keeps its body and init as given, so runfcgi writes it without web streams.

import { graft } from './graft.js';

const NativeResponse = globalThis.Response;

/** Status codes whose response has no body (Fetch standard, "null body status"). */
const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);
const REASON_PHRASE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** Status, head and a body runfcgi writes as it is. */
export interface PlainResponse {
  status: number;
  statusText: string;
  /** Headers as given (a Headers, pairs or a record), or the Headers the app already read. */
  headers: HeadersInit | undefined;
  body: string | Uint8Array | Blob | ReadableStream<Uint8Array> | null;
  /** Content-Type a Response would add for this body when the headers have none. */
  contentType: string | undefined;
}

/**
 * The parts runfcgi writes, or undefined when a real Response was built
 * already (the app read its body, cloned it...) or the body needs one.
 */
// These three are assigned in FastResponse's static block, which can read its private fields.
export let toPlain: (response: object) => PlainResponse | undefined;
export let materialise: (response: FastResponse) => Response;
/** True for a FastResponse (a brand check: `instanceof` is true for native Responses too). */
export let isFastResponse: (value: unknown) => value is FastResponse;

/**
 * A `Response` made from a string, bytes, Blob, URLSearchParams, null or a
 * stream that builds nothing until read: runfcgi takes its parts as given
 * (see `toPlain`). It is a Response for the app (`instanceof Response`, every
 * property and method): anything but status and headers builds a real
 * Response from the same input once, and answers from that. Export it, or
 * let `fastresponse=true` make it the global Response of the workers.
 */
export class FastResponse {
  readonly #body: BodyInit | null;
  readonly #init: ResponseInit | undefined;
  readonly #status: number;
  #headers: Headers | undefined;
  #native: Response | undefined;

  constructor(body?: BodyInit | null, init?: ResponseInit) {
    const status = init?.status ?? 200;
    // As a Response checks at once: a bad status or reason is the app's error where it makes it.
    if (!Number.isInteger(status) || status < 200 || status > 599) {
      throw new RangeError(`init["status"] must be in the range of 200 to 599, inclusive.`);
    }
    if (init?.statusText !== undefined && !REASON_PHRASE.test(String(init.statusText))) throw new TypeError('Invalid statusText');
    if (body != null && NULL_BODY_STATUS.has(status)) throw new TypeError('Response with null body status cannot have body');
    this.#body = body ?? null;
    this.#init = init;
    this.#status = status;
  }

  static [Symbol.hasInstance](value: unknown): boolean {
    // Responses from fetch() and native ones are Responses too, where this is the global Response.
    return value instanceof NativeResponse;
  }

  static json(data: unknown, init?: ResponseInit): FastResponse {
    const text = JSON.stringify(data);
    if (text === undefined) throw new TypeError('Value is not JSON serializable');
    if (init?.headers === undefined) return new FastResponse(text, { ...init, headers: { 'content-type': 'application/json' } });
    const headers = new Headers(init.headers);
    if (!headers.has('content-type')) headers.set('content-type', 'application/json');
    return new FastResponse(text, { ...init, headers });
  }

  static redirect(url: string | URL, status?: number): Response {
    return NativeResponse.redirect(url, status);
  }

  static error(): Response {
    return NativeResponse.error();
  }

  get status(): number {
    return this.#status;
  }

  get ok(): boolean {
    return this.#status >= 200 && this.#status < 300;
  }

  get statusText(): string {
    return this.#init?.statusText ?? '';
  }

  get headers(): Headers {
    if (this.#native !== undefined) return this.#native.headers;
    if (this.#headers === undefined) {
      const headers = new Headers(this.#init?.headers);
      const type = contentTypeOf(this.#body);
      if (type !== undefined && !headers.has('content-type')) headers.set('content-type', type);
      this.#headers = headers;
    }
    return this.#headers;
  }

  /** The real Response, built once from the same input. */
  #response(): Response {
    if (this.#native === undefined) {
      this.#native = new NativeResponse(this.#body, this.#headers === undefined ? this.#init : { ...this.#init, headers: this.#headers });
    }
    return this.#native;
  }

  static {
    toPlain = (value) => {
      const response = value as FastResponse;
      if (response.#native !== undefined) return undefined;
      const body = response.#body;
      let plain: PlainResponse['body'];
      if (body === null || typeof body === 'string' || body instanceof Uint8Array || body instanceof Blob || body instanceof ReadableStream) plain = body;
      else if (body instanceof ArrayBuffer) plain = new Uint8Array(body);
      else if (ArrayBuffer.isView(body)) plain = new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
      else if (body instanceof URLSearchParams) plain = body.toString();
      else return undefined; // FormData and the rest: a real Response makes their bytes
      const headers = response.#headers ?? response.#init?.headers;
      return { status: response.#status, statusText: response.#init?.statusText ?? '', headers, body: plain, contentType: response.#headers ? undefined : contentTypeOf(body) };
    };
    materialise = (response) => response.#response();
    isFastResponse = (value): value is FastResponse => typeof value === 'object' && value !== null && #body in value;
  }
}

function contentTypeOf(body: BodyInit | null): string | undefined {
  if (typeof body === 'string') return 'text/plain;charset=UTF-8';
  if (body instanceof URLSearchParams) return 'application/x-www-form-urlencoded;charset=UTF-8';
  if (body instanceof Blob && body.type !== '') return body.type;
  return undefined;
}

/** Every other property and method of a Response, answered by the real one. */
function inheritTheRest(): void {
  graft(FastResponse.prototype, NativeResponse.prototype, (self) => materialise(self as FastResponse));
}
inheritTheRest();

/** fastresponse=true: the workers' global Response becomes FastResponse (before the app is loaded). */
export function installFastResponse(): void {
  Object.defineProperty(globalThis, 'Response', { configurable: true, writable: true, value: FastResponse });
}
