// The workers' environment: clean by default (as PHP-FPM's clear_env), plus what env= adds.

import type { Account } from './accounts.js';

/** Passed through from runfcgi's own environment when set. */
export const KEPT_VARIABLES = ['PATH', 'HOME', 'USER', 'LOGNAME', 'LANG', 'LANGUAGE', 'LC_ALL', 'LC_CTYPE', 'TZ', 'TMPDIR', 'NODE_ENV', 'NODE_OPTIONS', 'NODE_EXTRA_CA_CERTS', 'FCGI_WEB_SERVER_ADDRS'];

export function workerEnvironment(
  additions: Record<string, string | null>,
  source: NodeJS.ProcessEnv = process.env,
  account?: Account,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of KEPT_VARIABLES) {
    const value = source[name];
    if (value !== undefined) env[name] = value;
  }
  if (account !== undefined) {
    env.HOME = account.home;
    env.USER = env.LOGNAME = account.name;
  }
  for (const [name, value] of Object.entries(additions)) {
    if (value !== null) env[name] = value;
    else if (source[name] !== undefined) env[name] = source[name];
  }
  return env;
}

/** runfcgi's own hand-overs, and a shell session's variables no app reads: not worth a word. */
const UNREMARKABLE = /^(?:RUNFCGI_.*|npm_.*|PWD|OLDPWD|SHLVL|_|TERM|TERM_.*|COLORTERM|SHELL|SSH_.*|XDG_.*|DISPLAY|MAIL|HOSTNAME|LS_COLORS|LESS.*|MOTD_SHOWN|COLUMNS|LINES|INIT_CWD|EDITOR|VISUAL|PAGER)$/;

/**
 * The names of runfcgi's own variables the workers do not get: a variable
 * set around `runfcgi` silently not reaching the app is the trap of a clean
 * environment. Names only: values may be secrets.
 */
export function leftOut(additions: Record<string, string | null>, source: NodeJS.ProcessEnv = process.env): string[] {
  return Object.keys(source)
    .filter((name) => !KEPT_VARIABLES.includes(name) && !(name in additions) && !UNREMARKABLE.test(name))
    .sort();
}
