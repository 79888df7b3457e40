// A request's params with names sent more than once: the last value in the object, the earlier ones kept aside.

/**
 * Where a params object keeps the values of names it got again (HAProxy sends
 * HTTP_COOKIE twice for a client that sent two Cookie lines). A symbol: the
 * params stay a plain name -> value object for `for...in` and Object.entries,
 * and only a request with a repeat carries the extra property.
 */
const REPEATED = Symbol('runfcgi.repeatedParams');

type WithRepeats = Record<string, string> & { [REPEATED]?: string[] };

/**
 * Sets `name` to `value`; a value it had already is kept aside. The last one
 * wins, as in PHP-FPM: nginx sends a param twice when a config overrides one
 * from an include (`fastcgi_param HTTP_HOST $http_host;` after `include
 * fastcgi_params`), and the override must win.
 */
export function addParam(params: Record<string, string>, name: string, value: string): void {
  const earlier = params[name];
  if (earlier !== undefined) ((params as WithRepeats)[REPEATED] ??= []).push(name, earlier);
  params[name] = value;
}

/** The earlier values of repeated names, in the order sent, as name, value, name, value...; undefined when none repeats. */
export function repeatedParams(params: Record<string, string>): readonly string[] | undefined {
  return (params as WithRepeats)[REPEATED];
}
