/**
 * The assertions the tests use: node:assert's strict ones (built into Deno),
 * under the names the tests were written with, plus checks of a thrown
 * error's class and message that return the error.
 *
 * @module
 */

import nodeAssert, { AssertionError } from "node:assert/strict";

export { AssertionError };

function format(value: unknown): string {
  return Deno.inspect(value, { depth: 8, sorted: true, iterableLimit: 200 });
}

/**
 * Fails unless `actual` and `expected` are deeply and strictly equal, as
 * node:assert's `deepStrictEqual` decides: prototypes, Map and Set entries,
 * Dates and keys whose value is `undefined` all count.
 */
export function assertEquals<T>(
  actual: T,
  expected: T,
  message?: string,
): void {
  if (message === undefined) nodeAssert.deepStrictEqual(actual, expected);
  else nodeAssert.deepStrictEqual(actual, expected, message);
}

/** Fails unless `condition` is truthy. */
export function assert(
  condition: unknown,
  message = "assertion failed",
): asserts condition {
  nodeAssert.ok(condition, message);
}

/** Fails unless `text` contains `part`. */
export function assertStringIncludes(text: string, part: string): void {
  if (!text.includes(part)) {
    nodeAssert.fail(
      `expected text to include ${format(part)}\ntext: ${format(text)}`,
    );
  }
}

/** Fails unless `text` matches `pattern` (node:assert's match). */
export function assertMatch(text: string, pattern: RegExp): void {
  nodeAssert.match(text, pattern);
}

// deno-lint-ignore no-explicit-any
type ErrorClass = abstract new (...args: any[]) => Error;

function checkError(
  error: unknown,
  errorClass?: ErrorClass,
  includes?: string,
): Error {
  if (!(error instanceof Error)) {
    nodeAssert.fail(`expected an Error, got ${format(error)}`);
  }
  const { name, message } = error;
  if (errorClass && !(error instanceof errorClass)) {
    nodeAssert.fail(
      `expected ${errorClass.name}, got ${name}: ${message}`,
    );
  }
  if (includes !== undefined && !error.message.includes(includes)) {
    nodeAssert.fail(
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
  nodeAssert.fail("expected the function to throw");
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
  nodeAssert.fail("expected the promise to reject");
}
