import { assertEquals, assertThrows } from "../../test/helpers/assert.ts";
import { InputError } from "../errors.ts";
import { migrateText } from "./migrate.ts";

Deno.test("migrateText rewrites apiVersion and toolPrefix, keeping comments and quotes", () => {
  const input = `# header
apiVersion: "mcp.kuadrant.io/v1alpha1" # old
kind: MCPServerRegistration
spec:
  # the prefix
  toolPrefix: 'github_'   # trailing
  targetRef: {name: r}
`;
  const { text, changes } = migrateText(input);
  assertEquals(text, input.replace("v1alpha1", "v1").replace("toolPrefix", "prefix"));
  assertEquals(changes.map((c) => [c.line, c.column, c.kind]), [[2, 13, "apiVersion"], [6, 3, "field"]]);
});

Deno.test("migrateText handles JSON, lists and other kinds", () => {
  const json =
    '{"apiVersion": "mcp.kuadrant.io/v1alpha1", "kind": "MCPVirtualServer", "spec": {"toolPrefix": "x"}}';
  assertEquals(
    migrateText(json).text,
    '{"apiVersion": "mcp.kuadrant.io/v1", "kind": "MCPVirtualServer", "spec": {"toolPrefix": "x"}}',
  );
  const list = `kind: List
items:
  - apiVersion: mcp.kuadrant.io/v1alpha1
    kind: MCPServerRegistration
    spec: {toolPrefix: a_}
  - apiVersion: v1
    kind: Secret
`;
  assertEquals(migrateText(list).text, list.replace("v1alpha1", "v1").replace("toolPrefix", "prefix"));
});

Deno.test("migrateText leaves current manifests untouched and reports conflicts", () => {
  const current = "apiVersion: mcp.kuadrant.io/v1\nkind: MCPServerRegistration\nspec: {prefix: a_}\n";
  assertEquals(migrateText(current), { text: current, changes: [] });
  const both =
    "apiVersion: mcp.kuadrant.io/v1alpha1\nkind: MCPServerRegistration\nspec:\n  prefix: a_\n  toolPrefix: b_\n";
  const result = migrateText(both);
  assertEquals(result.text, both.replace("v1alpha1", "v1"));
  assertEquals(result.changes[1].applied, false);
});

Deno.test("migrateText throws InputError on syntax errors", () => {
  assertThrows(() => migrateText("a: [\n"), InputError);
});
