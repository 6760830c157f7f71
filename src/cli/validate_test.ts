import { assertEquals, assertStringIncludes } from "../../test/helpers/assert.ts";
import { captureIo } from "./io.ts";
import { runCommandLine } from "./mod.ts";

const SEED = new URL("../../test/corpus/seed/mcp-server-registration.yaml", import.meta.url).pathname;

Deno.test("validate prints findings with positions and exits 1 on errors", async () => {
  const io = captureIo();
  const code = await runCommandLine(["validate", "-f", SEED], io);
  assertEquals(code, 1);
  assertStringIncludes(io.stdout, `${SEED}:2:13: error: `);
  assertStringIncludes(
    io.stdout,
    "[field.renamed] (MCPServerRegistration mcp-servers/github-mcp spec.toolPrefix)",
  );
  assertStringIncludes(io.stdout, "2 errors, 1 warning in 1 object");
});

Deno.test("validate reads stdin, prints JSON and passes warnings unless --strict", async () => {
  const text = "apiVersion: mcp.kuadrant.io/v1\nkind: MCPServerRegistration\nmetadata: {name: a}\n" +
    "spec: {targetRef: {name: r}}\n";
  let io = captureIo({ stdin: text });
  assertEquals(await runCommandLine(["validate", "-f", "-", "-o", "json"], io), 0);
  assertEquals(JSON.parse(io.stdout).warnings, 1);
  io = captureIo({ stdin: text });
  assertEquals(await runCommandLine(["validate", "-f", "-", "--strict"], io), 1);
});

Deno.test("migrate prints the migrated manifest", async () => {
  const io = captureIo();
  assertEquals(await runCommandLine(["migrate", "-f", SEED], io), 0);
  assertStringIncludes(io.stdout, "apiVersion: mcp.kuadrant.io/v1\n");
  assertStringIncludes(io.stdout, '  prefix: "github_"');
  assertStringIncludes(io.stderr, 'Renamed "spec.toolPrefix" to "spec.prefix"');
});
