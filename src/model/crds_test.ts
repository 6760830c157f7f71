import { assertEquals } from "../../test/helpers/assert.ts";
import { parse } from "yaml";
import { CRDS } from "./crds.ts";
import { crdFacts } from "./facts.ts";
import { CRD_DIR, generatedCrdFiles } from "./generate.ts";
import { toCrdObject } from "./render.ts";

Deno.test("crds/ matches the model (run `deno task crds` after changing src/model)", async () => {
  for (const { fileName, text } of generatedCrdFiles()) {
    const onDisk = await Deno.readTextFile(new URL(fileName, CRD_DIR));
    assertEquals(onDisk, text, `crds/${fileName} drifted from src/model`);
  }
});

Deno.test("the model states every upstream CRD fact and no other", async () => {
  const expected = (await Deno.readTextFile(new URL("./testdata/upstream_facts.txt", import.meta.url)))
    .split("\n").filter((line) => line && !line.startsWith("#"));
  const actual = CRDS.flatMap((crd) => crdFacts(toCrdObject(crd)));
  assertEquals(actual.sort(), expected.sort());
});

Deno.test("generated YAML parses back to the CRD object", () => {
  for (const crd of CRDS) {
    const text = generatedCrdFiles().find((f) => f.fileName === crd.fileName)!.text;
    assertEquals(parse(text), toCrdObject(crd));
  }
});
