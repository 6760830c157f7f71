/**
 * The MCP conformance server suite against the conformance fixture directly and through the
 * simulator gateway. With `federateAll` every scenario that passes directly passes through the
 * gateway too; in the default mode, the cluster's broker v0.9.0 (README, "Differences from the
 * cluster"), the scenarios lost are exactly those of the methods the broker does not serve.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { type ConformanceResult, runConformance } from "./fixtures/conformance.ts";
import { startFixture } from "./fixtures/mod.ts";
import { normalizeConfig, startGateway } from "../sim/mod.ts";

/**
 * Scenarios of the methods broker v0.9.0 answers `-32601` (resources/read, templates, subscribe,
 * unsubscribe, logging, completions; broker v0.9.0 observed, section 2 rows 11-14), or that need
 * one of them (tools-call-with-logging sets the log level first).
 */
const BROKER_NOT_SUPPORTED = [
  "completion-complete",
  "logging-set-level",
  "resources-read-binary",
  "resources-read-text",
  "resources-subscribe",
  "resources-templates-read",
  "resources-unsubscribe",
  "tools-call-with-logging",
];

/** The scenarios passing directly but not through the gateway, printed with their failed checks. */
function lost(direct: ConformanceResult, through: ConformanceResult, mode: string): string[] {
  console.log(
    `conformance through gateway (${mode}): ${through.passed.length}/${through.total} passed; failed: ${
      through.failed.join(", ") || "none"
    }`,
  );
  const scenarios = direct.passed.filter((s) => !through.passed.includes(s));
  for (const s of scenarios) {
    const bad = (through.checks[s] ?? []).filter((c) => c.status === "FAILURE");
    console.log(
      `  ${s}: ${bad.map((c) => `${c.name}: ${c.errorMessage ?? ""}`).join("; ") || "no checks recorded"}`,
    );
  }
  return scenarios;
}

Deno.test({
  name:
    "conformance: with federateAll every scenario passing directly passes through the gateway; by default exactly the broker's unsupported ones are lost",
  // The suite runs in a child process; its own sockets and files are not ours to sanitize.
  fn: async () => {
    await using fixture = await startFixture("conformance");
    // An empty prefix serves the fixture as-is (names and resource URIs), which the suite expects.
    const config = normalizeConfig({
      servers: [{ name: "test/conformance", url: fixture.url, prefix: "" }],
    });
    const direct = await runConformance(fixture.url, { timeoutMs: 240_000 });
    console.log(
      `conformance direct: ${direct.passed.length}/${direct.total} passed; failed: ${
        direct.failed.join(", ") || "none"
      }`,
    );
    assert(direct.passed.length > 0, direct.output.slice(-2000));
    {
      await using gw = await startGateway(config, { federateAll: true });
      const missing = lost(direct, await runConformance(gw.url, { timeoutMs: 240_000 }), "federateAll");
      assert(
        missing.length === 0,
        `scenarios passing directly but not through the gateway: ${missing.join(", ")}`,
      );
    }
    await using gw = await startGateway(config);
    const missing = lost(direct, await runConformance(gw.url, { timeoutMs: 240_000 }), "default");
    assertEquals(missing.sort(), BROKER_NOT_SUPPORTED.filter((s) => direct.passed.includes(s)));
  },
});
