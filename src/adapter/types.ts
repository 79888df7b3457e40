// What every adapter is: a function that takes a FastCGI request and answers it.

import type { Logger } from 'pino';
import type { FcgiRequest } from '../fcgi/request.js';

export type RequestHandler = (request: FcgiRequest) => void;

export interface AdapterOptions {
  /** Error details (stack trace) in 500 responses. */
  debug: boolean;
  log: Logger;
  /** Called as each response ends, with its status code (accesslog=). */
  access?: ((request: FcgiRequest, status: number) => void) | undefined;
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
