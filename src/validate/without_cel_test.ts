import { assert, assertEquals } from "../../test/helpers/assert.ts";
import { corpusFiles, loadCase, readCase } from "../../test/helpers/corpus.ts";
import { generateManifests } from "../../bench/manifests.ts";
import { parseManifests } from "../manifest/load.ts";
import { CRDS, serverRegistrationSpec } from "../model/crds.ts";
import type { Schema, XValidation } from "../model/schema.ts";
import { evaluateRules, isTransitionRule } from "./cel.ts";
import { validateManifests } from "./validate.ts";
import { NATIVE_RULES, validateManifestsLazily, validateWithoutEngine } from "./without_cel.ts";

function rulesOf(schema: Schema | undefined, out: XValidation[] = []): XValidation[] {
  if (!schema) return out;
  out.push(...(schema.xValidations ?? []));
  if (schema.type === "object") {
    for (const child of Object.values(schema.properties ?? {})) rulesOf(child, out);
    rulesOf(schema.additionalProperties, out);
  } else if (schema.type === "array") {
    rulesOf(schema.items, out);
  }
  return out;
}

Deno.test("every rule of the MCP CRDs that runs on create has a native answer", () => {
  const rules = CRDS.flatMap((crd) => crd.versions.flatMap((version) => rulesOf(version.schema)))
    .filter((rule) => !isTransitionRule(rule));
  assert(rules.length > 0, "the CRDs have rules");
  for (const rule of rules) assert(NATIVE_RULES.has(rule.rule), `no native answer for ${rule.rule}`);
});

Deno.test("native answers are the CEL engine's", () => {
  const specs: Record<string, unknown>[] = [];
  for (const list of ["Enabled", "Disabled", "enabled", ""]) {
    for (const prefix of [undefined, "", "a_", 5, null]) {
      specs.push({
        targetRef: { name: "r" },
        userSpecificList: list,
        ...(prefix === undefined ? {} : { prefix }),
      });
    }
  }
  let answered = 0;
  for (const spec of specs) {
    for (const [rule, native] of NATIVE_RULES) {
      const answer = native(spec);
      if (answer === undefined) continue;
      answered++;
      // The engine on a schema holding just this rule: no issue means true.
      const schema: Schema = { ...serverRegistrationSpec, xValidations: [{ rule }] };
      const issues = evaluateRules(spec, schema, undefined, false);
      assertEquals(issues.length === 0, answer, `${rule} on ${JSON.stringify(spec)}`);
    }
  }
  assert(answered >= 12, `only ${answered} answers checked`);
});

Deno.test("validateManifestsLazily reports what validateManifests reports", async () => {
  const cases: { name: string; docs: Parameters<typeof validateManifests>[0]; options: object }[] = [];
  for (const file of corpusFiles()) {
    const corpusCase = await readCase(file);
    const { docs, old } = await loadCase(corpusCase);
    cases.push({ name: corpusCase.name, docs, options: { ...corpusCase.expect.options, old } });
  }
  cases.push({ name: "bench", docs: parseManifests(generateManifests(400).text, "bench.yaml"), options: {} });
  let withoutEngine = 0;
  for (const { name, docs, options } of cases) {
    const full = validateManifests(docs, options);
    assertEquals(await validateManifestsLazily(docs, options), full, name);
    const report = validateWithoutEngine(docs, options);
    if (report === undefined) continue;
    withoutEngine++;
    assertEquals(report, full, `${name} without the engine`);
  }
  assert(validateWithoutEngine(cases.at(-1)!.docs), "the bench file needs no engine");
  // Most cases have no policy and no transition rule: they must not need the engine.
  assert(
    withoutEngine > cases.length / 2,
    `only ${withoutEngine} of ${cases.length} cases without the engine`,
  );
});
