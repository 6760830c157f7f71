/**
 * The project's own hygiene, checked with every test run: formatting and lint as `deno task check`
 * would report them, so CI catches what a contributor forgot to run.
 */

import { assertEquals } from "./helpers/assert.ts";
import { runProgram } from "./helpers/cli.ts";

Deno.test("deno fmt --check finds nothing to reformat", async () => {
  const result = await runProgram(Deno.execPath(), ["fmt", "--check"], { timeoutMs: 120_000 });
  assertEquals(result.code, 0, result.stdout + result.stderr);
});

Deno.test("deno lint finds no problems", async () => {
  const result = await runProgram(Deno.execPath(), ["lint"], { timeoutMs: 120_000 });
  assertEquals(result.code, 0, result.stdout + result.stderr);
});
