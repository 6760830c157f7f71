/**
 * `validate` on hostile and huge input, through the real binary: a file of 250,000 documents ends
 * with a verdict, and an alias bomb is a finding on its file while the other files are still checked
 * and `-o json` still prints the report.
 */

import { assert, assertEquals, assertStringIncludes } from "./helpers/assert.ts";
import { runCli } from "./helpers/cli.ts";
import { aliasBomb } from "./fixtures/alias_bomb.ts";

const DOCUMENTS = 250_000;
/** Every this many documents, one that is not an object (one `object.invalid` finding each). */
const INVALID_EVERY = 50_000;

Deno.test("validate reads 250,000 documents in one file and gives a verdict", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kubectl-mcp-many-" });
  try {
    const parts: string[] = [];
    const invalidLines: number[] = [];
    let line = 1;
    for (let i = 0; i < DOCUMENTS; i++) {
      if (i % INVALID_EVERY === INVALID_EVERY - 1) {
        invalidLines.push(line + 1);
        parts.push("---\n- not an object\n");
        line += 2;
      } else {
        parts.push(`---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c${i}}\n`);
        line += 4;
      }
    }
    const file = `${dir}/many.yaml`;
    await Deno.writeTextFile(file, parts.join(""));
    const started = performance.now();
    // Generous for a loaded machine: about 15 s of CPU when nothing else runs.
    const result = await runCli(["validate", "-f", file], { timeoutMs: 300_000 });
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    console.log(`validate of ${DOCUMENTS} documents: exit ${result.code} after ${seconds} s`);
    assertEquals(result.stderr, "");
    const invalid = DOCUMENTS / INVALID_EVERY;
    const lines = result.stdout.trimEnd().split("\n");
    assertEquals(lines.at(-1), `${invalid} errors, 0 warnings in ${DOCUMENTS - invalid} objects`);
    assertEquals(
      lines.slice(0, -1).map((text) => /^[^:]+:(\d+):\d+: error: .*\[object\.invalid\]$/.exec(text)?.[1]),
      invalidLines.map(String),
    );
    assertEquals(result.code, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an alias bomb is a finding on its file; the other files are checked and -o json prints", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kubectl-mcp-bomb-" });
  try {
    await Deno.writeTextFile(`${dir}/a-bomb.yaml`, aliasBomb());
    await Deno.writeTextFile(
      `${dir}/b-server.yaml`,
      [
        "apiVersion: mcp.kuadrant.io/v1",
        "kind: MCPServerRegistration",
        "metadata: {name: github, namespace: mcp}",
        "spec:",
        "  prefix: Bad-Prefix",
        "  targetRef: {group: gateway.networking.k8s.io, kind: HTTPRoute, name: github}",
        "",
      ].join("\n"),
    );
    const json = await runCli(["validate", "-f", dir, "-o", "json"], { timeoutMs: 60_000 });
    assertEquals(json.code, 1, json.stderr);
    assertEquals(json.stderr, "");
    const report = JSON.parse(json.stdout) as {
      findings: { code: string; source: string; line: number }[];
      objects: number;
    };
    const bomb = report.findings.filter((finding) => finding.source === `${dir}/a-bomb.yaml`);
    assertEquals(bomb.map((finding) => [finding.code, finding.line]), [["yaml.limit", 1]]);
    assert(
      report.findings.some((finding) =>
        finding.source === `${dir}/b-server.yaml` && finding.code === "schema.pattern"
      ),
      json.stdout,
    );
    assertEquals(report.objects, 1);

    const text = await runCli(["validate", "-f", dir], { timeoutMs: 60_000 });
    assertEquals(text.code, 1, text.stderr);
    assertStringIncludes(text.stdout, `${dir}/a-bomb.yaml:1:1: error: The document resolves more than`);
    assertStringIncludes(text.stdout, `${dir}/b-server.yaml:5:11: error:`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
