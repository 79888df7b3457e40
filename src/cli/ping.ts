// `runfcgi ping`: one request to the ping= path over FastCGI or SCGI, for health probes; loads nothing else.

import net from 'node:net';
import { encodeParams, encodeRecord } from '../protocol/fcgi/codec.js';
import { FCGI_BEGIN_REQUEST, FCGI_END_REQUEST, FCGI_PARAMS, FCGI_RESPONDER, FCGI_STDIN, FCGI_STDOUT } from '../protocol/fcgi/constants.js';
import { RecordParser } from '../protocol/fcgi/parser.js';
import { EXIT_OK, EXIT_RUNTIME, EXIT_USAGE } from '../shared/errors.js';

/**
 * A probe runs every few seconds in every pod: this command is its own
 * entry (bin/runfcgi loads it without the CLI, the options table or
 * commander), and parses its few words itself.
 */
interface Target {
  connect: net.NetConnectOpts;
  where: string;
  protocol: 'fcgi' | 'scgi';
  path: string;
  timeoutMs: number;
}

export const PING_USAGE = 'runfcgi ping socket=PATH|host=ADDRESS port=PORT [path=/ping] [protocol=fcgi|scgi] [timeout=SECONDS]';

class Usage extends Error {}

function parse(argv: readonly string[]): Target {
  const given = new Map<string, string>();
  for (const word of argv) {
    const kv = /^(?:--)?([A-Za-z]+)=([\s\S]*)$/.exec(word);
    const key = kv?.[1]?.toLowerCase();
    if (kv === null || key === undefined || !['socket', 'host', 'port', 'path', 'protocol', 'timeout'].includes(key)) {
      throw new Usage(`ping: unexpected '${word}': ${PING_USAGE}`);
    }
    given.set(key, kv[2]!);
  }
  const socket = given.get('socket');
  const host = given.get('host');
  const port = Number(given.get('port'));
  if (socket === undefined && (host === undefined || !Number.isInteger(port) || port < 1 || port > 65535)) {
    throw new Usage(`ping needs socket=PATH, or host=ADDRESS and port=PORT: ${PING_USAGE}`);
  }
  const protocol = given.get('protocol') ?? 'fcgi';
  if (protocol !== 'fcgi' && protocol !== 'scgi') throw new Usage(`ping: protocol=${protocol}: fcgi or scgi`);
  const path = given.get('path') ?? '/ping';
  if (!path.startsWith('/')) throw new Usage(`ping: path=${path}: a URL path such as /ping (the server's ping= option)`);
  const timeout = Number(given.get('timeout') ?? '5');
  if (!(timeout > 0)) throw new Usage(`ping: timeout=${given.get('timeout')}: seconds, more than 0`);
  const connect: net.NetConnectOpts = socket !== undefined ? { path: socket } : { host: host!, port };
  return { connect, where: socket ?? `${host}:${port}`, protocol, path, timeoutMs: timeout * 1000 };
}

function cgiParams(path: string): [string, string][] {
  return [['REQUEST_METHOD', 'GET'], ['REQUEST_URI', path], ['SCRIPT_NAME', path], ['QUERY_STRING', ''], ['SERVER_PROTOCOL', 'HTTP/1.1'], ['SERVER_NAME', 'localhost'], ['SERVER_PORT', '80'], ['REMOTE_ADDR', '127.0.0.1'], ['GATEWAY_INTERFACE', 'CGI/1.1']];
}

function fcgiRequest(path: string): Buffer {
  // FCGI_BeginRequestBody: role RESPONDER, no FCGI_KEEP_CONN: the application closes when done.
  const begin = Buffer.from([0, FCGI_RESPONDER, 0, 0, 0, 0, 0, 0]);
  return Buffer.concat([encodeRecord(FCGI_BEGIN_REQUEST, 1, begin), encodeRecord(FCGI_PARAMS, 1, encodeParams(cgiParams(path))), encodeRecord(FCGI_PARAMS, 1), encodeRecord(FCGI_STDIN, 1)]);
}

function scgiRequest(path: string): Buffer {
  // SCGI: a netstring of NUL-separated headers, CONTENT_LENGTH first, then the (empty) body.
  const headers = Buffer.from([['CONTENT_LENGTH', '0'], ['SCGI', '1'], ...cgiParams(path)].map(([k, v]) => `${k}\0${v}\0`).join(''));
  return Buffer.concat([Buffer.from(`${headers.length}:`), headers, Buffer.from(',')]);
}

/** The CGI response's status and body: "Status: 404 Not Found" or, without that header, 200. */
function parseResponse(raw: Buffer): { status: number; body: string } {
  const text = raw.toString('utf8');
  const end = text.search(/\r?\n\r?\n/);
  if (end < 0) return { status: 0, body: '' };
  const status = /^status:\s*(\d{3})/im.exec(text.slice(0, end));
  return { status: status ? Number(status[1]) : 200, body: text.slice(end).replace(/^\r?\n\r?\n/, '') };
}

/** Sends one request and resolves with what the application wrote on its stdout. */
function exchange(target: Target): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const out: Buffer[] = [];
    const socket = net.connect(target.connect);
    const timer = setTimeout(() => socket.destroy(new Error(`no answer within timeout=${target.timeoutMs / 1000} s`)), target.timeoutMs);
    let ended = false;
    const parser = new RecordParser((type, _id, content) => {
      if (type === FCGI_STDOUT) out.push(Buffer.from(content));
      else if (type === FCGI_END_REQUEST) ended = true;
    });
    socket.on('data', (chunk: Buffer) => {
      if (target.protocol === 'scgi') out.push(chunk);
      else parser.push(chunk);
      if (ended) socket.destroy();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      if (target.protocol === 'scgi' || ended) resolve(Buffer.concat(out));
      else reject(new Error('the connection closed before the end of the response'));
    });
    socket.end(target.protocol === 'scgi' ? scgiRequest(target.path) : fcgiRequest(target.path));
  });
}

/**
 * Exit 0 when the ping path answers 200 (its body goes to stdout); 1 with
 * one line on stderr when it cannot be reached or answers anything else; 2
 * for bad words. What a kubelet exec probe or a compose healthcheck reads.
 */
export async function ping(argv: readonly string[]): Promise<number> {
  let target: Target;
  try {
    target = parse(argv);
  } catch (error) {
    if (!(error instanceof Usage)) throw error;
    process.stderr.write(`runfcgi: ${error.message}\n`);
    return EXIT_USAGE;
  }
  try {
    const { status, body } = parseResponse(await exchange(target));
    if (status === 200) {
      process.stdout.write(body);
      return EXIT_OK;
    }
    const hint = status === 404 ? ` (is runfcgi started with ping=${target.path}?)` : '';
    process.stderr.write(`runfcgi: ping ${target.where}: GET ${target.path} answered ${status || 'no valid response'}${hint}\n`);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    process.stderr.write(`runfcgi: ping ${target.where}: ${code === undefined ? (error as Error).message : `cannot connect (${code})`}\n`);
  }
  return EXIT_RUNTIME;
}

export async function cli(argv: readonly string[]): Promise<void> {
  process.exitCode = await ping(argv);
}
