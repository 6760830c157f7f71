/**
 * The opa binary the tests use: test/opa/build.sh builds it from its Go module (`deno task test` runs
 * the build first). A test that needs it fails without it, with this reason; it never skips.
 *
 * @module
 */
import { findOpa } from "../../sim/auth/opa.ts";

/** Path of the opa binary test/opa/build.sh builds. */
export const TEST_OPA: string = new URL("../opa/bin/opa", import.meta.url).pathname;

/** The path of the test opa binary; throws naming the build script when it is missing. */
export function requireOpa(): string {
  const found = findOpa(TEST_OPA);
  if (!found) throw new Error(`${TEST_OPA} is missing: run test/opa/build.sh (deno task test builds it)`);
  return found;
}
