// applog=json: each line the app writes on its stdout or stderr becomes a JSON log record in runfcgi's log, with the worker's id.

import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type { DestinationStream } from 'pino';

/** A line longer than this is cut into records of this many characters: a runaway line must not grow without bound. */
const MAX_LINE = 16 * 1024;

/**
 * pino's levels, so that one parser reads runfcgi's lines and the app's:
 * stdout is info; stderr is error, as platforms that classify by stream
 * (Cloud Logging, most Kubernetes log agents) read it.
 */
const LEVEL = { stdout: 30, stderr: 50 } as const;

export type AppStream = keyof typeof LEVEL;
/** Takes one worker's stream: every line read from it is written to the log as a record. */
export type AppLines = (stream: Readable, name: AppStream, worker: { id: number; pid: number }) => void;

export function appLines(destination: DestinationStream): AppLines {
  return (stream, name, worker) => {
    const decoder = new StringDecoder('utf8');
    let pending = '';
    const record = (msg: string): void => {
      destination.write(`${JSON.stringify({ level: LEVEL[name], time: Date.now(), pid: worker.pid, role: 'app', worker: worker.id, stream: name, msg })}\n`);
    };
    const take = (text: string): void => {
      pending += text;
      for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
        record(pending.slice(0, nl).replace(/\r$/, ''));
        pending = pending.slice(nl + 1);
      }
      while (pending.length >= MAX_LINE) {
        record(pending.slice(0, MAX_LINE));
        pending = pending.slice(MAX_LINE);
      }
    };
    stream.on('data', (chunk: Buffer) => take(decoder.write(chunk)));
    // A last line without its newline is still a line (an app that dies mid-write).
    stream.on('end', () => {
      take(decoder.end());
      if (pending !== '') record(pending);
      pending = '';
    });
    // The worker is gone; its exit says why.
    stream.on('error', () => {});
  };
}
