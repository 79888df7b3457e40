// A fetch request's input side: STDIN gathered whole or as a web stream, abort, and drain for the reply.

import { Readable } from 'node:stream';
import type { GatewayRequest, RequestSink } from './types.js';

/** A web stream something began to read (Node's own check; its types know only Node streams). */
export function isDisturbed(stream: ReadableStream): boolean {
  return Readable.isDisturbed(stream as unknown as Readable);
}

/** Request body bytes held before the connection is paused, until the app reads them. */
const BODY_HIGH_WATER_MARK = 65536;

/**
 * Receives one request's STDIN. Until the app asks, chunks wait here (and
 * the connection pauses once 64 KiB wait): `readAll()` then takes them in one
 * piece without a web stream; `stream()` hands them to a ReadableStream
 * whose backpressure pauses the connection as it fills.
 */
export class FetchSink implements RequestSink {
  /** The web server aborted, or the connection was lost. */
  abortReason: Error | null = null;
  /** Called once on abort: the request's AbortSignal, when the app made one. */
  onAbort: ((reason: Error) => void) | null = null;
  private chunks: Buffer[] = [];
  private bytes = 0;
  private done = false;
  /** The app cancelled the body stream: what still comes is dropped. */
  private discarding = false;
  private controller: ReadableStreamDefaultController<Uint8Array> | null = null;
  private waiting: { resolve: (body: Buffer) => void; reject: (error: Error) => void } | null = null;
  private drained: (() => void) | null = null;

  constructor(private readonly fcgi: GatewayRequest) {}

  stdin(chunk: Buffer | null): void {
    if (chunk === null) {
      this.done = true;
      if (this.controller !== null) {
        this.controller.close();
        this.controller = null;
      } else if (this.waiting !== null) {
        this.waiting.resolve(this.take());
        this.waiting = null;
      }
      return;
    }
    const controller = this.controller;
    if (this.discarding) return;
    if (controller !== null) {
      controller.enqueue(chunk);
      if ((controller.desiredSize ?? 0) <= 0) this.fcgi.pause();
      return;
    }
    this.chunks.push(chunk);
    this.bytes += chunk.length;
    if (this.waiting === null && this.bytes >= BODY_HIGH_WATER_MARK) this.fcgi.pause();
  }

  abort(reason: Error): void {
    if (this.abortReason !== null) return;
    this.abortReason = reason;
    this.controller?.error(reason);
    this.controller = null;
    this.waiting?.reject(reason);
    this.waiting = null;
    this.onAbort?.(reason);
    this.drain();
  }

  /** The whole body, once STDIN has ended. */
  readAll(): Promise<Buffer> {
    if (this.done) return Promise.resolve(this.take());
    if (this.abortReason !== null) return Promise.reject(this.abortReason);
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.fcgi.resume();
    });
  }

  /** The body as a web stream: what arrived so far, then the rest, with backpressure. */
  stream(): ReadableStream<Uint8Array> {
    return new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          for (const chunk of this.chunks) controller.enqueue(chunk);
          this.chunks = [];
          if (this.done) controller.close();
          else if (this.abortReason !== null) controller.error(this.abortReason);
          else this.controller = controller;
        },
        pull: () => this.fcgi.resume(),
        cancel: () => {
          this.controller = null;
          this.discarding = true;
          this.fcgi.resume();
        },
      },
      { highWaterMark: BODY_HIGH_WATER_MARK, size: (chunk) => chunk.byteLength },
    );
  }

  private take(): Buffer {
    const chunks = this.chunks;
    this.chunks = [];
    if (chunks.length === 1) return chunks[0]!;
    return chunks.length === 0 ? Buffer.alloc(0) : Buffer.concat(chunks, this.bytes);
  }

  drain(): void {
    const resolve = this.drained;
    this.drained = null;
    resolve?.();
  }

  waitForDrain(): Promise<void> {
    return new Promise((resolve) => {
      this.drained = resolve;
    });
  }
}
