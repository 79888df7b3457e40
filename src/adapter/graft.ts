// A lazy stand-in for a web class (Request, Response): what it does not answer itself, the real object answers.

type Real = (self: object) => object;

/** A getter on `ours` that reads `key` from the real object behind `this`. */
export function delegateGetter(ours: object, key: PropertyKey, real: Real): void {
  Object.defineProperty(ours, key, {
    configurable: true,
    get(this: object) {
      return (real(this) as Record<PropertyKey, unknown>)[key];
    },
  });
}

/**
 * Gives the prototype `ours` every method and getter of the native prototype it does not
 * define itself, each answered by `real(this)` (the native object built from the same input,
 * once), and chains it to the native prototype, so that `instanceof` holds.
 */
export function graft(ours: object, native: object, real: Real): void {
  for (const key of Reflect.ownKeys(native)) {
    if (key === 'constructor' || key === Symbol.toStringTag || Object.hasOwn(ours, key)) continue;
    const descriptor = Object.getOwnPropertyDescriptor(native, key)!;
    if (typeof descriptor.value === 'function') {
      const method = descriptor.value as (...args: unknown[]) => unknown;
      Object.defineProperty(ours, key, {
        configurable: true,
        writable: true,
        value(this: object, ...args: unknown[]) {
          return method.apply(real(this), args);
        },
      });
    } else if (descriptor.get !== undefined) {
      delegateGetter(ours, key, real);
    }
  }
  Object.setPrototypeOf(ours, native);
}
