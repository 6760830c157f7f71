/**
 * Runs the validator on every manifest of `test/corpus/` and compares its findings (severity, code,
 * line, column, field) and the API server verdict with the adjacent `<case>.expect.jsonc`.
 *
 * `<case>.expect.jsonc`: `{ "apiserver": "accept"|"reject", "options"?: ValidateOptions (JSON part),
 * "old"?: "<case>.old.yaml", "findings": [{severity, code, line, column, field?, message?}] }` (a
 * `message`, when given, must be exact). `apiserver` is what a
 * real kube-apiserver with our CRDs (and, for other kinds, theirs) says to a server-side dry-run of
 * the file; it must agree with the findings the validator marks `apiserver: true`.
 */

import { assertEquals } from "./helpers/assert.ts";
import { CORPUS, corpusFiles, loadCase, readCase } from "./helpers/corpus.ts";
import { FINDING_CODES, validateManifests } from "../src/validate/mod.ts";

const files = corpusFiles(CORPUS);

Deno.test("the corpus has at least 60 manifests", () => {
  if (files.length < 60) throw new Error(`only ${files.length} corpus manifests`);
});

for (const file of files) {
  const name = file.slice(CORPUS.length);
  Deno.test(`corpus ${name}`, async () => {
    const corpusCase = await readCase(file);
    const { expect } = corpusCase;
    const { docs, old } = await loadCase(corpusCase);
    const report = validateManifests(docs, { ...expect.options, old });
    const actual = report.findings.map((f, i) => ({
      severity: f.severity,
      code: f.code,
      line: f.line,
      column: f.column,
      ...(f.field ? { field: f.field } : {}),
      ...(expect.findings[i]?.message !== undefined ? { message: f.message } : {}),
    }));
    assertEquals(actual, expect.findings);
    for (const finding of report.findings) {
      if (!(finding.code in FINDING_CODES)) throw new Error(`code ${finding.code} is not in FINDING_CODES`);
    }
    const verdict = report.findings.some((f) => f.apiserver) ? "reject" : "accept";
    assertEquals(verdict, expect.apiserver, "API server verdict");
  });
}
