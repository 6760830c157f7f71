/**
 * The MCP conformance server suite against the conformance fixture directly and through the
 * simulator gateway. With `federateAll` every scenario that passes directly must pass through the
 * gateway too; in the default mode (broker v0.9.0's behaviour) the scenarios lost must be exactly
 * those that use a method the broker answers "not supported" (-32601).
 */
import { assertEquals } from "./helpers/assert.ts";
import { type ConformanceResult, runConformance } from "./fixtures/conformance.ts";
import { startFixture } from "./fixtures/mod.ts";
import { normalizeConfig, startGateway } from "../sim/mod.ts";

/**
 * The suite's scenarios that need a method broker v0.9.0 does not serve: `logging/setLevel`
 * ("logging not supported"), `completion/complete` ("completions not supported"), `resources/read`,
 * `resources/templates/list`, `resources/subscribe` and `resources/unsubscribe` ("resources not
 * supported"). `tools-call-with-logging` sets the log level before it calls.
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

/** The scenarios passing directly but not through the gateway, each printed with its failed checks. */
function lostScenarios(label: string, direct: ConformanceResult, through: ConformanceResult): string[] {
  console.log(
    `conformance through gateway (${label}): ${through.passed.length}/${through.total} passed; failed: ${
      through.failed.join(", ") || "none"
    }`,
  );
  const lost = direct.passed.filter((s) => !through.passed.includes(s));
  for (const s of lost) {
    const bad = (through.checks[s] ?? []).filter((c) => c.status === "FAILURE");
    console.log(
      `  ${s}: ${bad.map((c) => `${c.name}: ${c.errorMessage ?? ""}`).join("; ") || "no checks recorded"}`,
    );
  }
  return lost.sort();
}

Deno.test({
  name: "conformance: through the gateway, the default loses only the broker's unsupported methods",
  fn: async () => {
    await using fixture = await startFixture("conformance");
    // An empty prefix serves the fixture as-is (names and resource URIs), which the suite expects.
    const config = normalizeConfig({ servers: [{ name: "test/conformance", url: fixture.url, prefix: "" }] });
    await using broker = await startGateway(config);
    await using all = await startGateway(config, { federateAll: true });
    const direct = await runConformance(fixture.url, { timeoutMs: 240_000 });
    console.log(
      `conformance direct: ${direct.passed.length}/${direct.total} passed; failed: ${
        direct.failed.join(", ") || "none"
      }`,
    );
    // Every scenario the broker cannot serve must pass directly, or the comparison proves nothing.
    assertEquals(
      BROKER_NOT_SUPPORTED.filter((s) => !direct.passed.includes(s)),
      [],
      direct.output.slice(-2000),
    );
    const [byDefault, federated] = await Promise.all([
      runConformance(broker.url, { timeoutMs: 240_000 }),
      runConformance(all.url, { timeoutMs: 240_000 }),
    ]);
    assertEquals(lostScenarios("default", direct, byDefault), BROKER_NOT_SUPPORTED);
    assertEquals(lostScenarios("--federate-all", direct, federated), []);
  },
});
