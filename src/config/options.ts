// THE table of options: names, defaults, parsers and help lines. The CLI,
// `runfcgi help`, validation, withDefaults and docs/options.md's table all come from here.

import os from 'node:os';
import { maxHeaderSize } from 'node:http';
import { UsageError } from '../shared/errors.js';
import { defaultBacklog, defaultMaxConns } from './system-limits.js';
import { containerPlace } from '../shared/container.js';
import { Invalid, account, appModule, boolean, cookieName, envEntry, filePath, host, integer, octalMode, oneOf, socketPath, umask, urlPath } from './option-values.js';

export type Method = 'prefork' | 'threaded';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
export type Protocol = 'fcgi' | 'scgi';
/** The app's stdout and stderr: as written, or each line a JSON log record in runfcgi's log. */
export type AppLog = 'raw' | 'json';
/** PHP-FPM's pm: dynamic keeps spare workers; ondemand lets the pool go down to none when idle. */
export type ProcessManager = 'dynamic' | 'ondemand';

/** Options after parsing and defaults: what the server runs with. */
export interface Options {
  app: string | undefined;
  protocol: Protocol;
  host: string | undefined;
  port: number | undefined;
  socket: string | undefined;
  method: Method;
  maxchildren: number;
  minspare: number;
  maxspare: number;
  pm: ProcessManager;
  processidletimeout: number;
  maxrequests: number;
  maxmemory: number;
  graceperiod: number;
  starttimeout: number;
  daemonize: boolean;
  pidfile: string | undefined;
  workdir: string;
  umask: number | undefined;
  outlog: string | undefined;
  errlog: string | undefined;
  debug: boolean;
  /** The workers' global Response is FastResponse: true, false, or undefined for "when the app is a fetch handler". */
  fastresponse: boolean | undefined;
  /** Each client's requests go to the worker that served its first (a route cookie). */
  sticky: boolean;
  /** The route cookie's name. */
  stickycookie: string;
  touchreload: string | undefined;
  timeout: number;
  slowlog: number;
  status: string | undefined;
  ping: string | undefined;
  pingresponse: string;
  loglevel: LogLevel;
  accesslog: string | undefined;
  applog: AppLog;
  socketmode: number | undefined;
  socketowner: string | undefined;
  socketgroup: string | undefined;
  user: string | undefined;
  group: string | undefined;
  maxparamsbytes: number;
  maxparams: number;
  maxheadersize: number;
  maxconns: number;
  maxreqs: number;
  idletimeout: number;
  readtimeout: number;
  firstbytetimeout: number;
  backlog: number;
  /** Variables for the workers' environment: a value, or null to pass runfcgi's own. */
  env: Record<string, string | null>;
  /** Where runfcgi was started: package names in app= resolve from here. Not an option. */
  cwd: string;
}

export type OptionName = Exclude<keyof Options, 'cwd'>;
/** The command line's words by key: a key given more than once has all its values. */
export type CommandLineInput = Record<string, string | string[]>;
/** What a user may give: the words of the command line, or typed values from JavaScript. */
export type OptionInput = Partial<Record<Exclude<OptionName, 'env'>, string | number | boolean | undefined>> & {
  /** 'KEY=VALUE' or 'KEY' words (repeatable on the command line), or an object. */
  env?: string | string[] | Record<string, string> | undefined;
};

/** One row of the table; `name` ties `default` to the option's type. */
type OptionSpec = { [K in OptionName]: OptionRow<K> }[OptionName];

interface OptionRow<K extends OptionName> {
  name: K;
  /** What follows the = in help and docs/options.md: method=prefork|threaded, socket=PATH. */
  value: string;
  /** Given more than once, the values add up (env=A=1 env=B=2). */
  repeatable?: true;
  /** The value when the option is not given: withDefaults, help and the docs all read it here. */
  default?: Options[K];
  /** How the default reads when withDefaults computes it from other options, or when absence means something (app=). */
  defaultText?: string;
  help: string;
  /** Turns the given text into the option's value; throws Invalid with what is accepted. */
  parse(text: string, cwd: string): unknown;
}

const CORES = Math.max(1, os.availableParallelism());

export const OPTIONS: readonly OptionSpec[] = [
  { name: 'app', value: 'MODULE', defaultText: 'built-in welcome app', help: 'module to serve: a file (./app.js) or package exporting a (req, res) listener, a { fetch } handler or an http.Server; or a framework build (its entry or its project directory: see docs/frameworks.md)', parse: appModule },
  { name: 'protocol', value: 'fcgi|scgi', default: 'fcgi', help: 'fcgi (FastCGI) or scgi', parse: oneOf<Protocol>({ fcgi: 'fcgi', fastcgi: 'fcgi', scgi: 'scgi' }) },
  { name: 'host', value: 'ADDRESS', help: 'listen on TCP at this address (IPv4 or IPv6); needs port', parse: host },
  { name: 'port', value: 'PORT', help: 'listen on this TCP port; needs host', parse: integer(1, 65535) },
  { name: 'socket', value: 'PATH', help: 'listen on a UNIX domain socket at this path (a stale one is replaced)', parse: socketPath },
  { name: 'method', value: 'prefork|threaded', default: 'prefork', help: 'prefork (alias fork): worker processes; threaded (alias thread): worker threads in one process', parse: oneOf<Method>({ prefork: 'prefork', fork: 'prefork', threaded: 'threaded', thread: 'threaded' }) },
  { name: 'maxchildren', value: 'N', defaultText: '4 x CPU cores', help: 'hard limit of workers, busy and spare together', parse: integer(1, 1024) },
  { name: 'minspare', value: 'N', defaultText: 'CPU cores (1 with pm=ondemand)', help: 'spare workers kept ready: a worker whose event loop is blocked or saturated is busy, and new ones start while fewer than this are free', parse: integer(1, 1024) },
  { name: 'maxspare', value: 'N', defaultText: 'CPU cores', help: 'spare workers kept at most: idle ones beyond this are stopped', parse: integer(1, 1024) },
  { name: 'pm', value: 'dynamic|ondemand', default: 'dynamic', help: "dynamic: keep minspare workers ready; ondemand (PHP-FPM's pm = ondemand): stop every worker after processidletimeout seconds without requests, and start one when a connection comes", parse: oneOf<ProcessManager>({ dynamic: 'dynamic', ondemand: 'ondemand' }) },
  { name: 'processidletimeout', value: 'SECONDS', default: 10, help: "with pm=ondemand: seconds without a request after which the workers stop (PHP-FPM's pm.process_idle_timeout, Passenger's pool_idle_time)", parse: integer(1, 86400) },
  { name: 'maxrequests', value: 'N', default: 0, help: 'requests a worker serves before it is replaced (0 = never); a little jitter keeps workers from restarting together', parse: integer(0) },
  { name: 'maxmemory', value: 'MB', default: 0, help: "MB a worker may use before it is replaced after its requests in progress (a process's RSS; a thread's JavaScript heap and Buffers), checked as requests begin; it goes past MB by what those requests add (see docs/reliability.md); 0 = no limit", parse: integer(0, 1_000_000) },
  { name: 'graceperiod', value: 'SECONDS', default: 30, help: "seconds a graceful stop or reload waits for requests in progress before it closes them; then as long again for the app's cleanup (SIGTERM, close())", parse: integer(0, 86400) },
  { name: 'starttimeout', value: 'SECONDS', default: 30, help: "seconds a worker may take to load the app and be ready (Next.js's prepare, NestJS's module graph); an app that takes longer at the first start stops runfcgi with exit status 4", parse: integer(1, 3600) },
  { name: 'daemonize', value: 'true|false', defaultText: 'true with host/port or socket, else false; false in a container', help: 'detach from the terminal and run in the background (true/false/yes/no/t/f/1/0)', parse: boolean },
  { name: 'pidfile', value: 'FILE', help: "write the master's process id to this file", parse: filePath },
  { name: 'workdir', value: 'DIR', default: '/', help: 'directory to change to when daemonizing', parse: filePath },
  { name: 'umask', value: 'MASK', defaultText: '022 when daemonizing', help: 'octal umask (decides the socket file mode); applied whenever given', parse: umask },
  { name: 'outlog', value: 'FILE', defaultText: '/dev/null when daemonizing', help: 'file for standard output', parse: filePath },
  { name: 'errlog', value: 'FILE', defaultText: '/dev/null when daemonizing', help: 'file for standard error (the log)', parse: filePath },
  { name: 'applog', value: 'raw|json', default: 'raw', help: "the app's standard output and error: raw (as written: to outlog and errlog, or the terminal) or json (each line a JSON record in runfcgi's log, with the worker's id and the stream: one stream that kubectl logs and log shippers parse)", parse: oneOf<AppLog>({ raw: 'raw', json: 'json' }) },
  { name: 'debug', value: 'true|false', default: false, help: 'show error details (stack traces) in 500 responses', parse: boolean },
  { name: 'fastresponse', value: 'true|false', defaultText: 'true for a fetch handler, else false', help: "the workers' global Response becomes runfcgi's FastResponse, whose string, bytes and JSON bodies are written without web streams (faster, most of all on Node 20; as @hono/node-server does); false keeps Node's own Response (see docs/state.md)", parse: boolean },
  { name: 'sticky', value: 'true|false', default: false, help: "sticky sessions: a client's requests go to the worker that served its first one (a route cookie runfcgi sets), for apps that keep sessions or sockets in memory; a client whose worker is gone moves to another (see docs/state.md)", parse: boolean },
  { name: 'stickycookie', value: 'NAME', default: 'runfcgi_route', help: 'with sticky=true: the name of the route cookie', parse: cookieName },
  { name: 'touchreload', value: 'FILE', help: "reload gracefully whenever this file's modification time changes (touch mysite.fcgi)", parse: filePath },
  { name: 'timeout', value: 'SECONDS', default: 0, help: 'seconds a request may run (0 = no limit): a longer one is ended (504 if nothing was sent yet) and logged with method and URI; a worker whose event loop does not answer for this long is replaced', parse: integer(0, 86400) },
  { name: 'slowlog', value: 'SECONDS', default: 0, help: 'seconds after which a request is logged as slow and counted in the status page (0 = never)', parse: integer(0, 86400) },
  { name: 'status', value: 'URLPATH', help: 'URL path of the status page, answered by runfcgi itself (?json, ?openmetrics, ?full)', parse: urlPath },
  { name: 'ping', value: 'URLPATH', help: 'URL path that answers pingresponse, for health checks', parse: urlPath },
  { name: 'pingresponse', value: 'TEXT', default: 'pong', help: 'the body of the ping answer', parse: (t) => t },
  { name: 'loglevel', value: 'LEVEL', default: 'info', help: 'least level of runfcgi\'s log lines: fatal, error, warn, info, debug, trace or silent', parse: oneOf<LogLevel>({ fatal: 'fatal', error: 'error', warn: 'warn', info: 'info', debug: 'debug', trace: 'trace', silent: 'silent' }) },
  { name: 'accesslog', value: 'FILE|-', help: 'a line per request (method, URI, status, bytes, duration, worker) to this file, or - for standard error', parse: (t, cwd) => (t === '-' ? '-' : filePath(t, cwd)) },
  { name: 'socketmode', value: 'MODE', defaultText: 'from umask', help: 'octal mode of the UNIX socket, such as 0660', parse: octalMode },
  { name: 'socketowner', value: 'USER', help: 'owner of the UNIX socket (when started as root)', parse: account },
  { name: 'socketgroup', value: 'GROUP', help: 'group of the UNIX socket, such as www-data', parse: account },
  { name: 'user', value: 'USER', help: 'when started as root: run the workers as this user, once the socket is bound', parse: account },
  { name: 'group', value: 'GROUP', defaultText: "user's group", help: 'when started as root: run the workers with this group', parse: account },
  { name: 'maxparamsbytes', value: 'BYTES', default: 1024 * 1024, help: 'bytes of params (CGI variables, headers) one request may send; more gets a 431', parse: integer(1024, 64 * 1024 * 1024) },
  { name: 'maxheadersize', value: 'BYTES', defaultText: "16384 (Node's http.maxHeaderSize)", help: "bytes of a request's URL, header names and values, counted as Node's server counts them; more gets a 431 and the app never sees it", parse: integer(1024, 64 * 1024 * 1024) },
  { name: 'maxparams', value: 'N', default: 1000, help: 'params one request may send; more gets a 431', parse: integer(10, 100000) },
  { name: 'maxconns', value: 'N', defaultText: 'from the open-files limit', help: "connections a worker keeps open at once (FCGI_MAX_CONNS): by default nine tenths of the open-files limit (ulimit -Hn; divided among threads with method=threaded). When full, the oldest connection that has not sent a whole request is closed for the new one", parse: integer(1, 1_000_000) },
  { name: 'maxreqs', value: 'N', default: 1024, help: 'requests at once on one connection (FCGI_MAX_REQS); more are refused with FCGI_OVERLOADED', parse: integer(1, 65535) },
  { name: 'idletimeout', value: 'SECONDS', default: 300, help: 'seconds an idle connection stays open (0 = no limit)', parse: integer(0, 86400) },
  { name: 'firstbytetimeout', value: 'SECONDS', default: 10, help: 'seconds a new connection may stay silent: one that sends nothing in that time is closed (a web server sends its request at once; 0 = no limit)', parse: integer(0, 86400) },
  { name: 'readtimeout', value: 'SECONDS', default: 60, help: 'seconds the web server may pause in the middle of sending a request; then it gets a 408 and the connection is closed (0 = no limit)', parse: integer(0, 86400) },
  { name: 'backlog', value: 'N', defaultText: 'net.core.somaxconn (4096)', help: "connections the kernel queues for the workers to accept (listen(2)'s backlog; Node's own default is 511); capped by net.core.somaxconn. Also applied to a socket a web server or systemd hands over", parse: integer(1, 65535) },
  { name: 'env', value: 'NAME=VALUE', defaultText: 'PATH, HOME, LANG, TZ, NODE_ENV...', help: "add NAME=VALUE to the workers' clean environment, or NAME to pass runfcgi's own (repeatable)", parse: envEntry, repeatable: true },
];

export const OPTION_NAMES: readonly string[] = OPTIONS.map((o) => o.name);

function spec(name: string): OptionSpec | undefined {
  return OPTIONS.find((o) => o.name === name);
}

/** A one-line usage error naming the option, the value and what is accepted. */
function invalid(name: string, text: string, why: string): UsageError {
  return new UsageError(`${name}=${text}: ${why}`);
}

/**
 * Parses and checks options given as words or values, fills in defaults.
 * Relative paths are resolved against `cwd` (where runfcgi was started).
 */
export function resolveOptions(input: OptionInput | CommandLineInput, cwd = process.cwd()): Options {
  const given: Partial<Record<OptionName, unknown>> = {};
  for (const [rawName, raw] of Object.entries(input)) {
    if (raw === undefined) continue;
    const name = rawName.toLowerCase();
    const option = spec(name);
    if (option === undefined) throw new UsageError(`unknown option '${rawName}'${suggestion(name)}`);
    // Given twice, the last value wins (as in a config file), but every value
    // is checked: daemonize=maybe daemonize=false is a mistake, not a choice.
    for (const text of repeatedTexts(raw)) {
      let value: unknown;
      try {
        value = option.parse(text, cwd);
      } catch (error) {
        if (error instanceof Invalid) throw invalid(option.name, text, error.message);
        throw error;
      }
      if (option.repeatable) {
        const [key, entry] = value as [string, string | null];
        const record = (given[option.name] ??= {}) as Record<string, string | null>;
        record[key] = entry;
      } else {
        given[option.name] = value;
      }
    }
  }
  return withDefaults(given as Partial<Options>, cwd);
}

/** An input value as the words it stands for: env may come as a list or an object. */
function repeatedTexts(raw: unknown): string[] {
  if (Array.isArray(raw)) return raw.map(String);
  if (typeof raw === 'object' && raw !== null) return Object.entries(raw).map(([k, v]) => `${k}=${String(v)}`);
  return [String(raw)];
}

/**
 * A container ends when its main process exits, and a daemon's launcher
 * exits once the daemon serves: the container would stop at once, and
 * restart forever. So there the default is the foreground, and an explicit
 * daemonize=true is refused with the reason (never a silent exit).
 */
function noDaemonInContainer(): void {
  const place = containerPlace();
  if (place === undefined) return;
  throw new UsageError(`daemonize=true: runfcgi is ${place.text}, which ends when the launcher exits once the daemon serves; give daemonize=false (the default in a container) and let the container runtime keep it running`);
}

function withDefaults(g: Partial<Options>, cwd: string): Options {
  if ((g.host === undefined) !== (g.port === undefined)) {
    throw new UsageError(g.host === undefined ? `port=${g.port} needs host= as well (host=127.0.0.1 port=${g.port})` : `host=${g.host} needs port= as well (host=${g.host} port=3033)`);
  }
  if (g.socket !== undefined && g.host !== undefined) {
    throw new UsageError(`socket= and host=/port= exclude each other: listen on a UNIX socket or on TCP, not both`);
  }
  const maxchildren = g.maxchildren ?? Math.max(g.minspare ?? 0, g.maxspare ?? 0, 4 * CORES);
  if (g.minspare !== undefined && g.minspare > maxchildren) {
    throw new UsageError(`minspare=${g.minspare} is more than maxchildren=${maxchildren}: spare workers are counted within maxchildren`);
  }
  if (g.maxspare !== undefined && g.maxspare > maxchildren) {
    throw new UsageError(`maxspare=${g.maxspare} is more than maxchildren=${maxchildren}: spare workers are counted within maxchildren`);
  }
  const pm = g.pm ?? DATA_DEFAULTS.pm!;
  if (g.processidletimeout !== undefined && pm !== 'ondemand') {
    throw new UsageError(`processidletimeout=${g.processidletimeout} applies to pm=ondemand: give pm=ondemand as well`);
  }
  // On demand, a woken pool starts with one worker, and grows as usual from there.
  const minspare = g.minspare ?? Math.min(pm === 'ondemand' ? 1 : CORES, maxchildren, g.maxspare ?? Infinity);
  const maxspare = g.maxspare ?? Math.max(minspare, Math.min(CORES, maxchildren));
  if (maxspare < minspare) {
    throw new UsageError(`maxspare=${maxspare} is less than minspare=${minspare}: maxspare must be at least minspare`);
  }
  const daemonize = g.daemonize ?? ((g.host !== undefined || g.socket !== undefined) && containerPlace() === undefined);
  if (daemonize) noDaemonInContainer();
  if (g.status !== undefined && g.status === g.ping) {
    throw new UsageError(`status=${g.status} and ping=${g.ping} are the same path: give them different ones`);
  }
  if (g.socket === undefined) {
    for (const key of ['socketmode', 'socketowner', 'socketgroup'] as const) {
      if (g[key] !== undefined) throw new UsageError(`${key}= applies to a UNIX socket: give socket= as well`);
    }
  }
  if (g.stickycookie !== undefined && g.sticky !== true) {
    throw new UsageError(`stickycookie=${g.stickycookie} applies to sticky sessions: give sticky=true as well`);
  }
  if (g.group !== undefined && g.user === undefined) {
    throw new UsageError(`group=${g.group} needs user= as well: the workers change user and group together`);
  }
  const given = Object.fromEntries(Object.entries(g).filter(([, v]) => v !== undefined));
  return {
    ...DATA_DEFAULTS,
    // Absent and without a default: undefined (no pidfile=, no status page...).
    ...given,
    maxchildren,
    minspare,
    maxspare,
    pm,
    daemonize,
    umask: g.umask ?? (daemonize ? 0o022 : undefined),
    outlog: g.outlog ?? (daemonize ? '/dev/null' : undefined),
    errlog: g.errlog ?? (daemonize ? '/dev/null' : undefined),
    env: g.env ?? {},
    maxconns: g.maxconns ?? defaultMaxConns((g.method ?? DATA_DEFAULTS.method) === 'threaded' ? maxchildren : 1),
    backlog: g.backlog ?? defaultBacklog(),
    maxheadersize: g.maxheadersize ?? maxHeaderSize,
    cwd,
  } as Options;
}

/** The defaults that are data (an option's `default`); withDefaults computes the others. */
const DATA_DEFAULTS: Partial<Options> = Object.fromEntries(OPTIONS.filter((o) => o.default !== undefined).map((o) => [o.name, o.default]));

/** How an option's default reads in help and the docs. */
function defaultText(o: OptionSpec): string {
  return o.defaultText ?? (o.default === undefined ? '-' : String(o.default));
}

/** " (did you mean 'host'?)" for a near miss, else ''. */
export function suggestion(name: string): string {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of OPTION_NAMES) {
    const d = editDistance(name, candidate);
    if (d < bestDistance) {
      bestDistance = d;
      best = candidate;
    }
  }
  const near = best !== undefined && (bestDistance <= 2 || best.startsWith(name) || name.startsWith(best));
  return near ? ` (did you mean '${best}'?)` : '';
}

/** Optimal string alignment distance: a swap of two letters counts as one edit. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The options table as Markdown: docs/options.md's copy is checked against this. */
export function optionsMarkdown(): string {
  const lines = ['| option | default | meaning |', '|---|---|---|'];
  for (const o of OPTIONS) lines.push(`| \`${typed(o).replaceAll('|', '\\|')}\` | ${defaultText(o)} | ${o.help} |`);
  return lines.join('\n');
}

export const EXAMPLES = [
  ['runfcgi app=./app.js method=threaded host=127.0.0.1 port=3033', 'TCP, worker threads, in the background'],
  ['runfcgi app=./app.js method=prefork socket=/home/user/mysite.sock pidfile=django.pid', 'UNIX socket, worker processes, pidfile'],
  ['runfcgi app=./app.js daemonize=false socket=/tmp/mysite.sock', 'in the foreground: stop with Ctrl+C'],
  ['runfcgi app=./app.js method=threaded', 'spawned by the web server (listening socket on fd 0)'],
] as const;

/** An option as users type it: method=prefork|threaded. */
function typed(o: OptionSpec): string {
  return `${o.name}=${o.value}`;
}

export function helpText(): string {
  const width = Math.max(...OPTIONS.map((o) => typed(o).length)) + 2;
  const out = [
    'Usage: runfcgi [app=MODULE] [KEY=VALUE ...]',
    '       runfcgi check [app=MODULE] [KEY=VALUE ...]   validate and load the app without serving (exit 0/1)',
    '       runfcgi status [--json] [--watch] pidfile=FILE|socket=PATH   the pool of a running server',
    '       runfcgi reload pidfile=FILE|socket=PATH   HUP, and wait until fresh workers serve',
    '       runfcgi stop pidfile=FILE|socket=PATH     INT (a graceful stop), and wait until the server is gone',
    '       runfcgi ping socket=PATH|host=ADDRESS port=PORT [path=/ping]   one request to ping= (health probes: exit 0/1)',
    '       runfcgi help',
    '',
    'Runs a Node.js web app as a FastCGI (or SCGI) server behind Apache, lighttpd or nginx.',
    'Options are key=value words (keys are case-insensitive); --key=value and --key value work too.',
    'Without host/port or socket, runfcgi uses the listening socket the web server passed on fd 0,',
    'or a systemd socket (LISTEN_FDS).',
    '',
    'Options:',
  ];
  for (const o of OPTIONS) {
    out.push(`  ${typed(o).padEnd(width)}${o.help}`);
    out.push(`  ${''.padEnd(width)}default: ${defaultText(o)}`);
  }
  out.push('', 'Examples:');
  for (const [command, what] of EXAMPLES) out.push(`  ${command}`, `      ${what}`);
  out.push(
    '',
    'Signals to the master: TERM or INT (Ctrl+C) stop gracefully, a second INT or QUIT stops at once,',
    'HUP reloads gracefully, USR1 reopens log files, TTIN/TTOU add/remove a spare worker.',
    'Exit codes: 0 clean stop, 1 runtime failure, 2 usage error, 3 worker boot failure, 4 app load failure.',
  );
  return out.join('\n') + '\n';
}
