import { assertEquals, assertMatch, assertStringIncludes } from "./helpers/assert.ts";
import { runCli } from "./helpers/cli.ts";

Deno.test("kubectl mcp --help lists every verb", async () => {
  const result = await runCli(["--help"]);
  assertEquals(result.code, 0, result.stderr);
  assertStringIncludes(result.stdout, "Commands:");
  assertStringIncludes(result.stdout, "version");
});

Deno.test("an unknown verb is a usage error with exit code 2", async () => {
  const result = await runCli(["frobnicate"]);
  assertEquals(result.code, 2);
  assertStringIncludes(result.stderr, 'error: unknown command "frobnicate" for "kubectl mcp"');
});

Deno.test("an unknown flag names the flag and exits 2", async () => {
  const result = await runCli(["version", "--frobnicate"]);
  assertEquals(result.code, 2);
  assertStringIncludes(result.stderr, "error: unknown flag: --frobnicate");
});

Deno.test("a flag value outside its allowed set is a usage error", async () => {
  const result = await runCli(["version", "-o", "xml"]);
  assertEquals(result.code, 2);
  assertStringIncludes(result.stderr, 'invalid argument "xml" for "--output" flag');
});

Deno.test("version -o json is machine readable", async () => {
  const result = await runCli(["version", "-o", "json"]);
  assertEquals(result.code, 0, result.stderr);
  const info = JSON.parse(result.stdout);
  assertMatch(info.pluginVersion, /^\d+\.\d+\.\d+/);
  assertEquals(info.mcpProtocolVersions.includes("2025-03-26"), true);
});
