// A request's params with names sent more than once: the first value in the object, the rest kept aside.

/**
 * Where a params object keeps the values of names it got again (HAProxy sends
 * HTTP_COOKIE twice for a client that sent two Cookie lines). A symbol: the
 * params stay a plain name -> value object for `for...in` and Object.entries,
 * and only a request with a repeat carries the extra property.
 */
const REPEATED = Symbol('runfcgi.repeatedParams');

type WithRepeats = Record<string, string> & { [REPEATED]?: string[] };

/** Sets `name` to `value`, or keeps `value` aside when the name is there already (first one wins). */
export function addParam(params: Record<string, string>, name: string, value: string): void {
  if (params[name] === undefined) params[name] = value;
  else ((params as WithRepeats)[REPEATED] ??= []).push(name, value);
}

/** The later values of repeated names, as name, value, name, value...; undefined when none repeats. */
export function repeatedParams(params: Record<string, string>): readonly string[] | undefined {
  return (params as WithRepeats)[REPEATED];
}
