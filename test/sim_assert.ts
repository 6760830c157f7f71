/**
 * Assertions for the simulator tests (`@std/assert` needs JSR, which this project avoids).
 *
 * @module
 */
import nodeAssert from "node:assert/strict";

/** Fails unless `cond` is truthy. */
export function assert(cond: unknown, msg?: string): asserts cond {
  nodeAssert.ok(cond, msg);
}

/** Deep strict equality. */
export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  nodeAssert.deepStrictEqual(actual, expected, msg);
}

/** Fails unless `actual` matches `re`. */
export function assertMatch(actual: string, re: RegExp, msg?: string): void {
  nodeAssert.match(actual, re, msg);
}

/** Fails unless `actual` contains `expected`. */
export function assertStringIncludes(actual: string, expected: string, msg?: string): void {
  nodeAssert.ok(
    actual.includes(expected),
    msg ?? `expected ${JSON.stringify(actual)} to include ${JSON.stringify(expected)}`,
  );
}

/** Fails unless `fn` rejects; returns the error. */
export async function assertRejects(fn: () => Promise<unknown>, msgIncludes?: string): Promise<Error> {
  try {
    await fn();
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    if (msgIncludes && !e.message.includes(msgIncludes)) {
      throw new Error(
        `expected error including ${JSON.stringify(msgIncludes)}, got ${JSON.stringify(e.message)}`,
      );
    }
    return e;
  }
  throw new Error("expected a rejection");
}

/** Fails unless `fn` throws; returns the error. */
export function assertThrows(fn: () => unknown, msgIncludes?: string): Error {
  try {
    fn();
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    if (msgIncludes && !e.message.includes(msgIncludes)) {
      throw new Error(
        `expected error including ${JSON.stringify(msgIncludes)}, got ${JSON.stringify(e.message)}`,
      );
    }
    return e;
  }
  throw new Error("expected a throw");
}
