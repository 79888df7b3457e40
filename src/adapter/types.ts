// What every adapter is: a function that takes a FastCGI request and answers it.

import type { Logger } from '../shared/log.js';
import type { RequestSink } from '../protocol/fcgi/request.js';

export type { RequestSink };

/**
 * One request from the web server, whatever the protocol: FastCGI's
 * FcgiRequest and SCGI's ScgiRequest both are one. The adapters and the
 * server only use this.
 */
export interface GatewayRequest {
  readonly id: number;
  readonly role: 'RESPONDER' | 'AUTHORIZER' | 'FILTER';
  /** The CGI/1.1 environment the web server sent. */
  readonly params: Record<string, string>;
  /** Bytes the params came in: no header block can be larger. */
  readonly paramBytes: number;
  readonly sink: RequestSink | null;
  readonly ended: boolean;
  /** Response bytes written so far: 0 means a response may still begin. */
  readonly bytesOut: number;
  /** performance.now() when the request began. */
  readonly startedAt: number;
  attach(sink: RequestSink): void;
  write(chunk: Buffer | string, encoding?: BufferEncoding): boolean;
  writeStderr(chunk: Buffer | string, encoding?: BufferEncoding): boolean;
  end(appStatus?: number): void;
  /** The reply cannot be completed: make the web server see it as broken. */
  fail(): void;
  pause(): void;
  resume(): void;
}

export type RequestHandler = (request: GatewayRequest) => void;

export interface AdapterOptions {
  /** Error details (stack trace) in 500 responses. */
  debug: boolean;
  log: Logger;
  /** Called as each response ends, with its status code (accesslog=). */
  access?: ((request: GatewayRequest, status: number) => void) | undefined;
}

/** The raw FastCGI side of a request, as `req.fcgi` (listeners) or the third argument (fetch). */
export interface FcgiInfo {
  role: 'RESPONDER' | 'AUTHORIZER' | 'FILTER';
  requestId: number;
  /** Every CGI param the web server sent, untouched. */
  params: Record<string, string>;
  /** FILTER only: the FCGI_DATA stream (the file to filter). */
  data?: NodeJS.ReadableStream;
  /** Text for the web server's error log (FCGI_STDERR). */
  writeStderr(text: string | Buffer): void;
}

/** The 500 body: details only when the operator asked for them with debug=true. */
export function errorBody(error: unknown, debug: boolean): string {
  if (!debug) return 'Internal Server Error\n';
  return error instanceof Error ? `${error.stack ?? error.message}\n` : `${String(error)}\n`;
}
