/**
 * The assertions of Deno's `@std/assert` that tests use, on top of `node:assert` (JSR, where
 * `@std/assert` lives, is unreachable here). Names and argument order follow `@std/assert`.
 *
 * @module
 */

import assert from "node:assert/strict";

/** Asserts deep equality. */
export function assertEquals<T>(actual: T, expected: T, message?: string): void {
  assert.deepStrictEqual(actual, expected, message as string);
}

/** Asserts deep inequality. */
export function assertNotEquals<T>(actual: T, expected: T, message?: string): void {
  assert.notDeepStrictEqual(actual, expected, message as string);
}

/** Asserts a truthy value. */
export function assert_(value: unknown, message?: string): asserts value {
  assert.ok(value, message as string);
}
export { assert_ as assert };

/** Asserts that `actual` contains `expected`. */
export function assertStringIncludes(actual: string, expected: string, message?: string): void {
  if (!actual.includes(expected)) {
    throw new assert.AssertionError({
      message: message ?? `Expected text to include ${JSON.stringify(expected)}, got:\n${actual}`,
      actual,
      expected,
      operator: "includes",
    });
  }
}

/** Asserts that `actual` matches `pattern`. */
export function assertMatch(actual: string, pattern: RegExp, message?: string): void {
  assert.match(actual, pattern, message as string);
}

// deno-lint-ignore no-explicit-any
type ErrorClass<E> = new (...args: any[]) => E;

/**
 * Asserts that a promise rejects, optionally with an error of a class, and with a message that
 * includes text: `assertRejects(fn, Class, "text")` or `assertRejects(fn, "text")`.
 */
export async function assertRejects<E extends Error = Error>(
  fn: () => Promise<unknown>,
  errorClassOrText?: ErrorClass<E> | string,
  messageIncludes?: string,
): Promise<E> {
  const errorClass = typeof errorClassOrText === "string" ? undefined : errorClassOrText;
  if (typeof errorClassOrText === "string") messageIncludes = errorClassOrText;
  try {
    await fn();
  } catch (error) {
    if (errorClass && !(error instanceof errorClass)) {
      throw new assert.AssertionError({ message: `Expected ${errorClass.name}, got ${error}` });
    }
    if (messageIncludes) assertStringIncludes((error as Error).message, messageIncludes);
    return error as E;
  }
  throw new assert.AssertionError({ message: "Expected the promise to reject" });
}

/** Asserts that a function throws, like {@link assertRejects}. */
export function assertThrows<E extends Error = Error>(
  fn: () => unknown,
  errorClassOrText?: ErrorClass<E> | string,
  messageIncludes?: string,
): E {
  const errorClass = typeof errorClassOrText === "string" ? undefined : errorClassOrText;
  if (typeof errorClassOrText === "string") messageIncludes = errorClassOrText;
  try {
    fn();
  } catch (error) {
    if (errorClass && !(error instanceof errorClass)) {
      throw new assert.AssertionError({ message: `Expected ${errorClass.name}, got ${error}` });
    }
    if (messageIncludes) assertStringIncludes((error as Error).message, messageIncludes);
    return error as E;
  }
  throw new assert.AssertionError({ message: "Expected the function to throw" });
}
