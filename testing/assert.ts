/**
 * The few assertions the tests need (`jsr:@std/assert` is not reachable from here).
 *
 * @module
 */

/** Thrown when an assertion fails. */
export class AssertionError extends Error {
  /** Names the error in test output. */
  override name = "AssertionError";
}

/** Asserts that `condition` is truthy. */
export function assert(condition: unknown, message = "expected a truthy value"): asserts condition {
  if (!condition) throw new AssertionError(message);
}

/**
 * Asserts that `actual` and `expected` are structurally equal: primitives by `Object.is`; arrays,
 * plain objects and class instances by prototype and own enumerable keys; `Map`s and `Set`s by
 * entries in insertion order; typed arrays byte by byte; `Date`s by time.
 */
export function assertEquals<T>(actual: T, expected: T, message?: string): void {
  if (equal(actual, expected)) return;
  throw new AssertionError(
    `${message ? `${message}: ` : ""}values differ\n  actual:   ${show(actual)}\n  expected: ${
      show(expected)
    }`,
  );
}

/** Asserts that `text` matches `pattern`. */
export function assertMatch(text: string, pattern: RegExp, message?: string): void {
  if (pattern.test(text)) return;
  throw new AssertionError(
    `${message ? `${message}: ` : ""}${show(text)} does not match ${pattern}`,
  );
}

/**
 * Asserts that `fn` rejects (or throws), optionally with an instance of `ErrorClass` whose message
 * includes `messageIncludes`; returns the error for further checks.
 */
export async function assertRejects<E extends Error = Error>(
  fn: () => Promise<unknown>,
  // deno-lint-ignore no-explicit-any
  ErrorClass?: new (...args: any[]) => E,
  messageIncludes?: string,
): Promise<E> {
  try {
    await fn();
  } catch (error) {
    checkError(error, ErrorClass, messageIncludes);
    return error as E;
  }
  throw new AssertionError("expected the promise to reject");
}

/**
 * Asserts that `fn` throws, optionally an instance of `ErrorClass` whose message includes
 * `messageIncludes`; returns the error for further checks.
 */
export function assertThrows<E extends Error = Error>(
  fn: () => unknown,
  // deno-lint-ignore no-explicit-any
  ErrorClass?: new (...args: any[]) => E,
  messageIncludes?: string,
): E {
  try {
    fn();
  } catch (error) {
    checkError(error, ErrorClass, messageIncludes);
    return error as E;
  }
  throw new AssertionError("expected the function to throw");
}

function checkError(
  error: unknown,
  // deno-lint-ignore no-explicit-any
  ErrorClass: (new (...args: any[]) => Error) | undefined,
  messageIncludes: string | undefined,
): void {
  if (ErrorClass && !(error instanceof ErrorClass)) {
    throw new AssertionError(`expected ${ErrorClass.name}, got ${show(error)}`);
  }
  const message = error instanceof Error ? error.message : String(error);
  if (messageIncludes !== undefined && !message.includes(messageIncludes)) {
    throw new AssertionError(`error message ${show(message)} lacks ${show(messageIncludes)}`);
  }
}

function show(value: unknown): string {
  return Deno.inspect(value, { depth: 10, sorted: true });
}

function bytesOf(view: ArrayBufferView): number[] {
  return [...new Uint8Array(view.buffer, view.byteOffset, view.byteLength)];
}

function equal(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  if (a instanceof Map || a instanceof Set) {
    return equal([...a], [...(b as typeof a)]);
  }
  if (a instanceof Date) return a.getTime() === (b as Date).getTime();
  if (ArrayBuffer.isView(a)) return equal(bytesOf(a), bytesOf(b as ArrayBufferView));
  const keysA = Object.keys(a);
  const keysB = Object.keys(b);
  return keysA.length === keysB.length &&
    keysA.every((key) =>
      Object.hasOwn(b, key) &&
      equal((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key])
    );
}
