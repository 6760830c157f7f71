import { assertEquals, assertMatch, assertStringIncludes } from "./helpers/assert.ts";
import { runCli, runProgram } from "./helpers/cli.ts";

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

Deno.test("colour only on a terminal, and never with NO_COLOR", async () => {
  // `script` (util-linux) gives the CLI a real pseudo-terminal as standard output.
  const command =
    `${Deno.execPath()} run -A --quiet main.ts validate -f test/corpus/seed/mcp-server-registration.yaml`;
  const onTerminal = await runProgram("script", ["-qec", command, "/dev/null"], { env: { NO_COLOR: "" } });
  assertStringIncludes(onTerminal.stdout, "\x1b[31merror\x1b[39m");
  const noColor = await runProgram("script", ["-qec", command, "/dev/null"], { env: { NO_COLOR: "1" } });
  assertStringIncludes(noColor.stdout, "error: apiVersion");
  assertEquals(noColor.stdout.includes("\x1b["), false);
  const piped = await runCli(["validate", "-f", "test/corpus/seed/mcp-server-registration.yaml"], {
    env: { NO_COLOR: "" },
  });
  assertEquals(piped.stdout.includes("\x1b["), false);
});
