/**
 * Values user code may throw, reject, return, pass to `fail()`, or log, chosen to break code that
 * handles them carelessly: every read of them may throw.
 */
export interface HostileValue {
  /** What it is, for test names. */
  readonly name: string;
  /** A fresh instance. */
  make(): unknown;
}

/**
 * The hostile values taskwarden is tested against: null, undefined, a Symbol, a BigInt, an Error whose
 * `message` getter throws, one whose `stack` getter throws, a Proxy whose every trap throws, a circular
 * object, a null-prototype object with a throwing `toJSON`, a frozen object, and a thenable whose `then`
 * getter throws.
 *
 * @example
 * ```ts
 * for (const { name, make } of hostileValues()) {
 *   it(`survives fail(${name})`, async () => { task.fail(make()); await task.done; });
 * }
 * ```
 */
export function hostileValues(): HostileValue[] {
  return [
    { name: 'null', make: () => null },
    { name: 'undefined', make: () => undefined },
    { name: 'a Symbol', make: () => Symbol('hostile') },
    { name: 'a BigInt', make: () => 10n ** 30n },
    {
      name: 'an Error whose message getter throws',
      make: () => {
        const error = new Error('hidden');
        Object.defineProperty(error, 'message', {
          get() {
            throw new Error('message getter');
          },
        });
        return error;
      },
    },
    {
      name: 'an Error whose stack and name getters throw',
      make: () => {
        const error = new Error('stackless');
        for (const key of ['stack', 'name']) {
          Object.defineProperty(error, key, {
            get() {
              throw new Error(`${key} getter`);
            },
          });
        }
        return error;
      },
    },
    {
      name: 'a Proxy whose every trap throws',
      make: () => {
        const boom = (): never => {
          throw new Error('trap');
        };
        return new Proxy(
          {},
          {
            get: boom,
            has: boom,
            ownKeys: boom,
            getPrototypeOf: boom,
            getOwnPropertyDescriptor: boom,
            set: boom,
            defineProperty: boom,
            deleteProperty: boom,
          },
        );
      },
    },
    {
      name: 'a circular object',
      make: () => {
        const value: Record<string, unknown> = { name: 'circle' };
        value.self = value;
        return value;
      },
    },
    {
      name: 'a null-prototype object with a throwing toJSON',
      make: () =>
        Object.assign(Object.create(null), {
          toJSON() {
            throw new Error('toJSON');
          },
        }),
    },
    {
      name: 'a thenable whose then getter throws',
      make: () =>
        Object.defineProperty({}, 'then', {
          get() {
            throw new Error('then getter');
          },
        }),
    },
  ];
}
