/**
 * The few assertions the tests use (JSR's @std/assert cannot be fetched here).
 *
 * @module
 */

/** Thrown when an assertion fails. */
export class AssertionError extends Error {
  /** Creates the error with its message. */
  constructor(message: string) {
    super(message);
    this.name = "AssertionError";
  }
}

function format(value: unknown): string {
  return Deno.inspect(value, {
    depth: 8,
    sorted: true,
    iterableLimit: 200,
    strAbbreviateSize: 500,
  });
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || !a || !b) return false;
  if (a instanceof Map && b instanceof Map) {
    if (a.size !== b.size) return false;
    for (const [key, value] of a) {
      if (!b.has(key) || !deepEqual(value, b.get(key))) return false;
    }
    return true;
  }
  if (a instanceof Set && b instanceof Set) {
    if (a.size !== b.size) return false;
    for (const value of a) if (!b.has(value)) return false;
    return true;
  }
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (a instanceof Uint8Array && b instanceof Uint8Array) {
    return a.length === b.length && a.every((byte, i) => byte === b[i]);
  }
  const keysA = Object.keys(a).filter((k) =>
    (a as Record<string, unknown>)[k] !== undefined
  );
  const keysB = Object.keys(b).filter((k) =>
    (b as Record<string, unknown>)[k] !== undefined
  );
  if (keysA.length !== keysB.length) return false;
  return keysA.every((key) =>
    deepEqual(
      (a as Record<string, unknown>)[key],
      (b as Record<string, unknown>)[key],
    )
  );
}

/** Fails unless `actual` and `expected` are deeply equal. */
export function assertEquals<T>(
  actual: T,
  expected: T,
  message?: string,
): void {
  if (!deepEqual(actual, expected)) {
    throw new AssertionError(
      `${message ? message + ": " : ""}values differ\nactual:   ${
        format(actual)
      }\nexpected: ${format(expected)}`,
    );
  }
}

/** Fails unless `condition` is truthy. */
export function assert(
  condition: unknown,
  message = "assertion failed",
): asserts condition {
  if (!condition) throw new AssertionError(message);
}

/** Fails unless `text` contains `part`. */
export function assertStringIncludes(text: string, part: string): void {
  if (!text.includes(part)) {
    throw new AssertionError(
      `expected text to include ${format(part)}\ntext: ${format(text)}`,
    );
  }
}

// deno-lint-ignore no-explicit-any
type ErrorClass = abstract new (...args: any[]) => Error;

function checkError(
  error: unknown,
  errorClass?: ErrorClass,
  includes?: string,
): Error {
  if (!(error instanceof Error)) {
    throw new AssertionError(`expected an Error, got ${format(error)}`);
  }
  const { name, message } = error;
  if (errorClass && !(error instanceof errorClass)) {
    throw new AssertionError(
      `expected ${errorClass.name}, got ${name}: ${message}`,
    );
  }
  if (includes !== undefined && !error.message.includes(includes)) {
    throw new AssertionError(
      `expected the message to include ${format(includes)}: ${error.message}`,
    );
  }
  return error;
}

/** Fails unless `fn` throws (an instance of `errorClass`, with `includes` in its message). */
export function assertThrows(
  fn: () => unknown,
  errorClass?: ErrorClass,
  includes?: string,
): Error {
  try {
    fn();
  } catch (error) {
    return checkError(error, errorClass, includes);
  }
  throw new AssertionError("expected the function to throw");
}

/** Fails unless the promise from `fn` rejects (like {@linkcode assertThrows}). */
export async function assertRejects(
  fn: () => Promise<unknown>,
  errorClass?: ErrorClass,
  includes?: string,
): Promise<Error> {
  try {
    await fn();
  } catch (error) {
    return checkError(error, errorClass, includes);
  }
  throw new AssertionError("expected the promise to reject");
}
