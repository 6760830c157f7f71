/**
 * The MCP conformance server suite against the conformance fixture directly and through the
 * simulator gateway: every scenario that passes directly must pass through the gateway too.
 */
import { assert } from "./helpers/assert.ts";
import { runConformance } from "./fixtures/conformance.ts";
import { startFixture } from "./fixtures/mod.ts";
import { normalizeConfig, startGateway } from "../sim/mod.ts";

Deno.test({
  name: "conformance: every scenario passing directly also passes through the gateway",
  // The suite runs in a child process; its own sockets and files are not ours to sanitize.
  fn: async () => {
    await using fixture = await startFixture("conformance");
    // An empty prefix serves the fixture as-is (names and resource URIs), which the suite expects.
    await using gw = await startGateway(normalizeConfig({
      servers: [{ name: "test/conformance", url: fixture.url, prefix: "" }],
    }));
    const direct = await runConformance(fixture.url, { timeoutMs: 240_000 });
    const through = await runConformance(gw.url, { timeoutMs: 240_000 });
    console.log(
      `conformance direct: ${direct.passed.length}/${direct.total} passed; failed: ${
        direct.failed.join(", ") || "none"
      }`,
    );
    console.log(
      `conformance through gateway: ${through.passed.length}/${through.total} passed; failed: ${
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
    assert(direct.passed.length > 0, direct.output.slice(-2000));
    assert(lost.length === 0, `scenarios passing directly but not through the gateway: ${lost.join(", ")}`);
  },
});
