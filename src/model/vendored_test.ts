import { assertEquals } from "../../test/helpers/assert.ts";
import { fromOpenApi } from "./openapi.ts";
import { sortKeys, toOpenApi } from "./render.ts";
import { pinnedVersion, VENDORED_DIR, VENDORED_SOURCES, vendoredText, vendorPinned } from "./vendor_crds.ts";
import { foreignCrd, VENDORED_CRDS } from "./vendored.ts";

Deno.test("the vendored Kuadrant CRDs equal the manifests the test cluster installs (run src/model/vendor_crds.ts)", async () => {
  const pinned = await vendorPinned();
  assertEquals(pinned.length, VENDORED_SOURCES.length);
  for (const { fileName, crd } of pinned) {
    const onDisk = await Deno.readTextFile(new URL(fileName, VENDORED_DIR));
    assertEquals(
      onDisk,
      vendoredText(crd),
      `src/model/vendored/${fileName} drifted from the pinned manifest`,
    );
    assertEquals(crd.source.version, await pinnedVersion(crd.source.module));
  }
});

Deno.test("the schema DSL holds every keyword of the vendored CRDs (converted and rendered back unchanged)", () => {
  const dropMapType = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(dropMapType);
    if (node && typeof node === "object") {
      return Object.fromEntries(
        Object.entries(node).filter(([key]) => key !== "x-kubernetes-map-type").map((
          [k, v],
        ) => [k, dropMapType(v)]),
      );
    }
    return node;
  };
  for (const crd of VENDORED_CRDS) {
    for (const version of crd.versions) {
      assertEquals(sortKeys(toOpenApi(fromOpenApi(version.schema))), sortKeys(dropMapType(version.schema)));
    }
    const converted = foreignCrd(crd.group, crd.kind);
    assertEquals(converted?.versions.map((v) => v.name), crd.versions.map((v) => v.name));
  }
});

Deno.test("a keyword the DSL does not model is refused, not ignored", () => {
  let message = "";
  try {
    fromOpenApi({ type: "object", properties: { port: { "x-kubernetes-int-or-string": true } } });
  } catch (error) {
    message = (error as Error).message;
  }
  assertEquals(message, "<root>.port: a node without a type needs x-kubernetes-preserve-unknown-fields");
  try {
    fromOpenApi({ type: "string", oneOf: [{ pattern: "a" }] });
  } catch (error) {
    message = (error as Error).message;
  }
  assertEquals(message, "<root>: keywords not modelled: oneOf");
});
